"""Background work for safety alerts: ``escalate_safety_alerts`` runs every 5 minutes
from celery beat (CELERY_BEAT_SCHEDULE in config/settings.py)."""

from celery import shared_task
from django.utils import timezone

from ketapath.observations.services import safety_alerts_escalate


@shared_task(name="ketapath.observations.tasks.escalate_safety_alerts")
def escalate_safety_alerts() -> int:
    """Escalate every overdue open alert; answers how many escalated."""
    return len(safety_alerts_escalate(now=timezone.now()))
