from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "ketapath.clinics"
    label = "clinics"
