from django.urls import path

from ketapath.questionnaires import views

app_name = "questionnaires"

urlpatterns = [
    path(
        "patients/<uuid:patient_id>/questionnaires/",
        views.response_list,
        name="list",
    ),
    path(
        "patients/<uuid:patient_id>/questionnaires/responses/<uuid:response_id>/",
        views.response_detail,
        name="detail",
    ),
    path(
        "patients/<uuid:patient_id>/questionnaires/<str:code>/new/",
        views.response_new,
        name="new",
    ),
]
