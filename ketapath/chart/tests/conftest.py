"""Fixtures of the demo-seed tests."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from ketapath.chart.demo import seed_demo


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """One demo seed for the whole module, rolled back at the end; each test runs in a
    savepoint inside it."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            seed_demo()
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
