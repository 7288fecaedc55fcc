from django.urls import path

from ketapath.patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_new, name="new"),
    path("consent-forms/", views.consent_document_list, name="consent_documents"),
    path("consent-forms/new/", views.consent_document_new, name="consent_document_new"),
    path(
        "consent-forms/<uuid:document_id>/",
        views.consent_document_detail,
        name="consent_document",
    ),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<uuid:patient_id>/enrol/", views.patient_enrol, name="enrol"),
    path("<uuid:patient_id>/consents/new/", views.consent_new, name="consent_new"),
    path(
        "<uuid:patient_id>/consents/<uuid:consent_id>/withdraw/",
        views.consent_withdraw,
        name="consent_withdraw",
    ),
    path("<uuid:patient_id>/escorts/new/", views.escort_new, name="escort_new"),
    path("<uuid:patient_id>/allergies/new/", views.allergy_new, name="allergy_new"),
    path(
        "<uuid:patient_id>/allergies/none-known/",
        views.allergy_none_known,
        name="allergy_none_known",
    ),
    path(
        "<uuid:patient_id>/allergies/<uuid:allergy_id>/remove/",
        views.allergy_remove,
        name="allergy_remove",
    ),
    path(
        "<uuid:patient_id>/escorts/<uuid:escort_id>/remove/",
        views.escort_remove,
        name="escort_remove",
    ),
]
