"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Fail at start, not at the first request (reading an empty SECRET_KEY raises).
if not settings.SECRET_KEY:
    raise ImproperlyConfigured("The SECRET_KEY setting must not be empty.")
