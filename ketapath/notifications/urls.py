from django.urls import path

from ketapath.notifications import views

app_name = "notifications"

urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/messages/<uuid:message_id>/resend/", views.message_resend, name="resend"),
    path("patients/<uuid:patient_id>/messages/", views.patient_messages, name="patient_messages"),
    path(
        "patients/<uuid:patient_id>/messages/instructions/<uuid:instruction_id>/withdraw/",
        views.instruction_withdraw,
        name="instruction_withdraw",
    ),
]
