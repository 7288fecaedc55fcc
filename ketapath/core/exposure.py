"""A patient's recent ketamine exposure, shown with a course (a continuation course must
show it, issue 5): sessions and milligrams given in the last 30 and 90 days.

The milligrams given are recorded in the controlled-substance ledger (the pharmacy app),
which sits beside scheduling in the app graph; neither may import the other, so this
hook lives here: the pharmacy registers the function that answers when it loads
(``register_exposure_provider``) and scheduling asks ``exposure_for``. Without a
provider the course page says the ledger is not available rather than showing zeros.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

WINDOWS = (30, 90)


@dataclass(frozen=True)
class Exposure:
    days: int
    sessions: int
    mg: Decimal


ExposureProvider = Callable[[UUID, datetime], list[Exposure]]
_provider: list[ExposureProvider] = []


def register_exposure_provider(provider: ExposureProvider) -> None:
    _provider[:] = [provider]


def exposure_for(patient_id: UUID, now: datetime) -> list[Exposure] | None:
    """One row per window in WINDOWS, or None when no ledger is installed."""
    if not _provider:
        return None
    return _provider[0](patient_id, now)
