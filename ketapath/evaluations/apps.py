from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "ketapath.evaluations"
    label = "evaluations"
