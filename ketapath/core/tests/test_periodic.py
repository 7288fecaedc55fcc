import pytest
from django.conf import settings

from ketapath.core.periodic import (
    PeriodicJob,
    PeriodicRunner,
    due_jobs,
    jobs_from_schedule,
    resolve_task,
)

CALLS: list[str] = []


def record_call() -> str:
    CALLS.append("ran")
    return "ok"


def failing_job() -> None:
    raise RuntimeError("broken")


def test_every_production_job_can_run_in_process():
    jobs = jobs_from_schedule(settings.CELERY_BEAT_SCHEDULE)
    assert {job.name for job in jobs} == set(settings.CELERY_BEAT_SCHEDULE)
    for job in jobs:
        assert callable(resolve_task(job.task))


@pytest.mark.parametrize("bad", [0, -5, "every minute", None, True])
def test_a_schedule_that_is_not_seconds_is_refused(bad):
    with pytest.raises(ValueError, match="positive number of seconds"):
        jobs_from_schedule({"job": {"task": "x.y", "schedule": bad}})


def test_due_jobs_waits_for_the_interval():
    job = PeriodicJob(name="a", task="x.y", every_seconds=300)
    assert due_jobs([job], {}, now=10.0) == [job]
    assert due_jobs([job], {"a": 10.0}, now=309.9) == []
    assert due_jobs([job], {"a": 10.0}, now=310.0) == [job]


def test_runner_runs_due_jobs_and_survives_a_failure(db):
    CALLS.clear()
    runner = PeriodicRunner(
        {
            "fails": {"task": f"{__name__}.failing_job", "schedule": 60.0},
            "records": {"task": f"{__name__}.record_call", "schedule": 60.0},
        }
    )
    assert runner.run_once(now=0.0) == ["fails", "records"]
    assert CALLS == ["ran"]
    assert runner.run_once(now=30.0) == []
    assert runner.run_once(now=60.0) == ["fails", "records"]
    assert CALLS == ["ran", "ran"]
