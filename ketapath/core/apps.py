from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ketapath.core"
    label = "core"
