"""Staff pages of the portal app: sending a patient a link (mounted at the site root)."""

from django.urls import path

from ketapath.portal import staff_views

app_name = "portal_staff"

urlpatterns = [
    path(
        "patients/<uuid:patient_id>/messages/send-link/",
        staff_views.link_send_page,
        name="link_send",
    ),
]
