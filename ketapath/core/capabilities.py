"""What a user may do, named once; accounts maps roles (and credentials) to these."""

from django.db import models


class Capability(models.TextChoices):
    PATIENT_READ = "patient.read", "Read demographics and the chart"
    PATIENT_WRITE = "patient.write", "Register and edit patients, record consents"
    SCHEDULE_WRITE = "schedule.write", "Book and change appointments"
    EVALUATION_READ = "evaluation.read", "Read evaluations"
    EVALUATION_DRAFT = "evaluation.draft", "Draft evaluations"
    EVALUATION_SIGN = "evaluation.sign", "Sign evaluations and eligibility"
    ALERT_ACK = "alert.ack", "Acknowledge safety alerts"
    QUESTIONNAIRE_ENTER = "questionnaire.enter", "Enter questionnaires"
    LINK_SEND = "link.send", "Send patient links"
    PROTOCOL_WRITE = "protocol.write", "Write and approve protocol templates"
    PROTOCOL_READ = "protocol.read", "Read protocol templates"
    SESSION_DOCUMENT = "session.document", "Document sessions"
    SESSION_SIGN = "session.sign", "Sign session notes"
    COURSE_ORDER = "course.order", "Order a course and approve doses"
    LEDGER_HANDLE = "ledger.handle", "Draw, waste and witness controlled substances"
    LEDGER_RECONCILE = "ledger.reconcile", "Reconcile the controlled-substance ledger"
    OUTCOMES_READ = "outcomes.read", "See outcome dashboards"
    BILLING_READ = "billing.read", "Read billing"
    BILLING_WRITE = "billing.write", "Write billing"
    AUDIT_READ = "audit.read", "Read and export the audit trail"
    POLICY_WRITE = "policy.write", "Edit the clinic policy"
    STAFF_MANAGE = "staff.manage", "Manage staff, rooms and hours"
