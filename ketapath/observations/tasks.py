"""Background work for safety alerts.

Schedule with celery beat every 5 minutes, e.g. in settings::

    CELERY_BEAT_SCHEDULE = {
        "escalate-safety-alerts": {
            "task": "ketapath.observations.tasks.escalate_safety_alerts",
            "schedule": 300.0,
        }
    }
"""

from celery import shared_task
from django.utils import timezone

from ketapath.observations.services import safety_alerts_escalate


@shared_task(name="ketapath.observations.tasks.escalate_safety_alerts")
def escalate_safety_alerts() -> int:
    """Escalate every overdue open alert; answers how many escalated."""
    return len(safety_alerts_escalate(now=timezone.now()))
