from django.urls import path

from ketapath.evaluations import views

app_name = "evaluations"

urlpatterns = [
    path("patients/<uuid:patient_id>/evaluations/", views.evaluation_list, name="list"),
    path("patients/<uuid:patient_id>/evaluations/new/", views.evaluation_new, name="new"),
    path("evaluations/<uuid:evaluation_id>/", views.evaluation_detail, name="detail"),
    path("evaluations/<uuid:evaluation_id>/sign/", views.evaluation_sign, name="sign"),
    path("evaluations/<uuid:evaluation_id>/addenda/", views.evaluation_addendum, name="addendum"),
    path(
        "clinic/contraindication-classes/",
        views.contraindication_classes,
        name="classes",
    ),
]
