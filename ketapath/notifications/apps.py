from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "ketapath.notifications"
    label = "notifications"
