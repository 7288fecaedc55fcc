"""Celery application: eager in-process unless CELERY_BROKER_URL is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ketapath")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
