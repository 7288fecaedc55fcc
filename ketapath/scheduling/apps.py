from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "ketapath.scheduling"
    label = "scheduling"
