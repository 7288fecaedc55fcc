from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "ketapath.outcomes"
    label = "outcomes"
