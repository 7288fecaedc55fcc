from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "ketapath.treatments"
    label = "treatments"
