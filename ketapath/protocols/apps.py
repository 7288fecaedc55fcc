from django.apps import AppConfig


class ProtocolsConfig(AppConfig):
    name = "ketapath.protocols"
    label = "protocols"
