"""Clinic-local time: stored in UTC, shown and filtered in the clinic's time zone."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone

UTC = ZoneInfo("UTC")


def is_valid_time_zone(name: str) -> bool:
    return name in available_timezones()


def to_local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(time_zone))


def local_today(time_zone: str) -> date:
    return timezone.now().astimezone(ZoneInfo(time_zone)).date()


def local_day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of a local calendar day; DST-safe."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def age_on(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def rfc3339(moment: datetime | None, time_zone: str | None = None) -> str | None:
    if moment is None:
        return None
    zone = ZoneInfo(time_zone) if time_zone else UTC
    return moment.astimezone(zone).isoformat()
