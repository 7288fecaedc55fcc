from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _register_sqlite_median(sender: Any, connection: Any, **kwargs: Any) -> None:
    """SQLite has no percentile_cont: the dashboard's median is an aggregate registered on
    each new SQLite connection (database plumbing, not business logic)."""
    if connection.vendor == "sqlite":
        from ketapath.outcomes.dashboard import SqliteMedian

        connection.connection.create_aggregate("ketapath_median", 1, SqliteMedian)


class OutcomesConfig(AppConfig):
    name = "ketapath.outcomes"
    label = "outcomes"

    def ready(self) -> None:
        connection_created.connect(_register_sqlite_median, dispatch_uid="ketapath_median")
