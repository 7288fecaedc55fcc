from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ketapath.patients"
    label = "patients"
