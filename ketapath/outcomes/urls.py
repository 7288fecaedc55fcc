from django.urls import path

from ketapath.outcomes import views

app_name = "outcomes"

urlpatterns = [
    path("outcomes/", views.outcomes_dashboard, name="dashboard"),
    path("outcomes/summary.csv", views.outcomes_csv, name="csv"),
    path("outcomes/reassessments/", views.reassessments_due, name="due"),
    path("courses/<uuid:course_id>/reassessment/", views.reassessment, name="reassessment"),
    path("courses/<uuid:course_id>/decision/", views.decide, name="decide"),
]
