from django.urls import path

from ketapath.chart import views

app_name = "chart"

urlpatterns = [
    path("", views.today, name="today"),
    path("patients/<uuid:patient_id>/", views.patient_chart, name="patient"),
]
