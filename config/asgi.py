"""ASGI entry point."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()

# Fail at start, not at the first request (reading an empty SECRET_KEY raises).
if not settings.SECRET_KEY:
    raise ImproperlyConfigured("The SECRET_KEY setting must not be empty.")
