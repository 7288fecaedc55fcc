"""Top-level URLs: pages per app, the JSON API under /api/v1, Django's admin."""

from django.contrib import admin
from django.urls import include, path

from config.api import api

urlpatterns = [
    path("", include("ketapath.chart.urls")),
    path("accounts/", include("ketapath.accounts.urls")),
    path("clinic/", include("ketapath.clinics.urls")),
    path("patients/", include("ketapath.patients.urls")),
    path("audit/", include("ketapath.audit.urls")),
    path("", include("ketapath.observations.urls")),
    path("", include("ketapath.questionnaires.urls")),
    path("", include("ketapath.medications.urls")),
    path("", include("ketapath.evaluations.urls")),
    path("", include("ketapath.protocols.urls")),
    path("", include("ketapath.scheduling.urls")),
    path("", include("ketapath.notifications.urls")),
    path("", include("ketapath.portal.staff_urls")),
    path("p/", include("ketapath.portal.urls")),
    path("pharmacy/", include("ketapath.pharmacy.urls")),
    path("", include("ketapath.treatments.urls")),
    path("", include("ketapath.outcomes.urls")),
    path("", include("ketapath.outcomes.timeline_urls")),
    path("api/v1/", api.urls),
    path("django-admin/", admin.site.urls),
]
