"""The periodic jobs of ``CELERY_BEAT_SCHEDULE`` run in-process, for ``make demo``.

Production runs these jobs from celery beat (DESIGN §5b). A demo on one laptop has no
broker and no beat, yet its alerts must still escalate and, later, its outbox must still
send; :class:`PeriodicRunner` is a daemon thread that calls each scheduled task directly
at its interval. Only plain-seconds schedules are supported: a crontab entry is refused
at start so a demo never silently skips a job.
"""

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    every_seconds: float


def jobs_from_schedule(schedule: Mapping[str, Mapping[str, Any]]) -> list[PeriodicJob]:
    """The beat schedule as jobs; a schedule that is not a number of seconds is refused."""
    jobs = []
    for name, entry in schedule.items():
        every = entry.get("schedule")
        if isinstance(every, bool) or not isinstance(every, int | float) or every <= 0:
            raise ValueError(
                f"Periodic job {name!r}: schedule must be a positive number of seconds "
                f"to run in-process, not {every!r}."
            )
        jobs.append(PeriodicJob(name=name, task=entry["task"], every_seconds=float(every)))
    return jobs


def resolve_task(dotted: str) -> Callable[[], Any]:
    """The callable behind a task's dotted name (module path plus attribute)."""
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def due_jobs(
    jobs: list[PeriodicJob], last_run: Mapping[str, float], now: float
) -> list[PeriodicJob]:
    """The jobs whose interval has passed since they last ran (never run: due now)."""
    return [
        job
        for job in jobs
        if job.name not in last_run or now - last_run[job.name] >= job.every_seconds
    ]


class PeriodicRunner(threading.Thread):
    """Runs each due job, then sleeps until the next one is due. A failing job is logged
    and tried again at its next interval; it never stops the others."""

    def __init__(self, schedule: Mapping[str, Mapping[str, Any]], tick_seconds: float = 5.0):
        super().__init__(name="ketapath-periodic", daemon=True)
        self.jobs = jobs_from_schedule(schedule)
        self.tick_seconds = tick_seconds
        self.last_run: dict[str, float] = {}
        self._stop_event = threading.Event()

    def run_once(self, now: float | None = None) -> list[str]:
        """Run the jobs due at ``now``; answers the names of those that ran."""
        now = time.monotonic() if now is None else now
        ran = []
        for job in due_jobs(self.jobs, self.last_run, now):
            self.last_run[job.name] = now
            close_old_connections()
            try:
                result = resolve_task(job.task)()
                logger.info("periodic job %s finished: %s", job.name, result)
            except Exception:
                logger.exception("periodic job %s failed", job.name)
            finally:
                close_old_connections()
            ran.append(job.name)
        return ran

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.run_once()
            self._stop_event.wait(self.tick_seconds)

    def stop(self) -> None:
        self._stop_event.set()
