from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "ketapath.medications"
    label = "medications"
