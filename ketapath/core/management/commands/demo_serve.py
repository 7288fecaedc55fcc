"""``manage.py demo_serve``: the development server with the periodic jobs running
in-process (alert escalation, and every other job in CELERY_BEAT_SCHEDULE), so a demo
behaves as production does without a broker or celery beat."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.runserver import Command as RunserverCommand

from ketapath.core.periodic import PeriodicRunner


class Command(RunserverCommand):
    help = "Run the development server and the periodic jobs in-process (DEBUG only)."

    def inner_run(self, *args: Any, **options: Any) -> None:
        # inner_run runs in the serving process (the autoreloader's child), so the jobs
        # run once, beside the server that answers requests.
        if not settings.DEBUG:
            raise CommandError("demo_serve runs only with DEBUG=1; production uses celery beat.")
        runner = PeriodicRunner(settings.CELERY_BEAT_SCHEDULE)
        runner.start()
        self.stdout.write(
            f"Periodic jobs running in-process: {', '.join(job.name for job in runner.jobs)}"
        )
        try:
            super().inner_run(*args, **options)
        finally:
            runner.stop()
