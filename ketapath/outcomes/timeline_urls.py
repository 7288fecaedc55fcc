"""Pages of a patient's timeline and progress report (included at the site root)."""

from django.urls import path

from ketapath.outcomes import timeline_views

app_name = "outcomes_timeline"

urlpatterns = [
    path(
        "patients/<uuid:patient_id>/timeline/",
        timeline_views.timeline_page,
        name="timeline",
    ),
    path(
        "patients/<uuid:patient_id>/report/",
        timeline_views.report_page,
        name="report",
    ),
]
