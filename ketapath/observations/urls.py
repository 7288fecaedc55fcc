from django.urls import path

from ketapath.observations import views

app_name = "observations"

urlpatterns = [
    path("patients/<uuid:patient_id>/vitals/", views.vitals_list, name="vitals"),
    path("patients/<uuid:patient_id>/vitals/new/", views.vitals_new, name="vitals_new"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<uuid:alert_id>/clear/", views.alert_clear, name="alert_clear"),
]
