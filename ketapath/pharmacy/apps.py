from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "ketapath.pharmacy"
    label = "pharmacy"
