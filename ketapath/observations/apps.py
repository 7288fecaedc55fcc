from django.apps import AppConfig


class ObservationsConfig(AppConfig):
    name = "ketapath.observations"
    label = "observations"
