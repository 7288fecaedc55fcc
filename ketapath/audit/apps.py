from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "ketapath.audit"
    label = "audit"
