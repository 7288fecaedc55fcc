"""Report pages under /pharmacy/ (namespace "pharmacy"): the reconciliation and its
exports, and a patient's dispensing log."""

from django.urls import URLPattern, path

from ketapath.pharmacy import views_reports

urlpatterns: list[URLPattern] = [
    path("reconciliation/", views_reports.reconciliation, name="reconciliation"),
    path("reconciliation.csv", views_reports.reconciliation_csv, name="reconciliation_csv"),
    path("reconciliation.pdf", views_reports.reconciliation_pdf, name="reconciliation_pdf"),
    path(
        "patients/<uuid:patient_id>/dispensing-log/",
        views_reports.dispensing_log,
        name="dispensing_log",
    ),
]
