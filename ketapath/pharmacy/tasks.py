"""Background work of the ledger: ``quarantine_unusable_vials`` runs hourly from celery
beat (CELERY_BEAT_SCHEDULE in config/settings.py; in-process under ``make demo``), so a
vial that expired or passed its beyond-use date overnight is already set aside."""

from celery import shared_task

from ketapath.pharmacy.ledger import quarantine_unusable


@shared_task(name="ketapath.pharmacy.tasks.quarantine_unusable_vials")
def quarantine_unusable_vials() -> int:
    return quarantine_unusable()
