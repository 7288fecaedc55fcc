from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketapath.accounts"
    label = "accounts"
