from django.urls import path

from ketapath.medications import views

app_name = "medications"

urlpatterns = [
    path("patients/<uuid:patient_id>/medications/", views.medication_list, name="list"),
    path("patients/<uuid:patient_id>/medications/new/", views.medication_new, name="new"),
    path(
        "patients/<uuid:patient_id>/medications/<uuid:medication_id>/stop/",
        views.medication_stop,
        name="stop",
    ),
    path("patients/<uuid:patient_id>/pdmp-checks/new/", views.pdmp_check_new, name="pdmp_new"),
]
