"""Background work of the outbox: ``send_due_messages`` runs every minute from celery beat
(CELERY_BEAT_SCHEDULE in config/settings.py; in-process under ``make demo``)."""

from celery import shared_task

from ketapath.notifications.services import send_due


@shared_task(name="ketapath.notifications.tasks.send_due_messages")
def send_due_messages() -> dict[str, int]:
    """Send what is due; answers the counts by outcome."""
    report = send_due()
    return {
        "sent": report.sent,
        "retried": report.retried,
        "failed": report.failed,
        "not_sent": report.not_sent,
        "stale": report.stale,
    }
