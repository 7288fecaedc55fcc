"""One pagination rule for pages and the API: ``page`` from 1, ``page_size`` 25 by default."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    items: list[Any]
    count: int
    number: int
    size: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def start_index(self) -> int:
        return 0 if self.count == 0 else (self.number - 1) * self.size + 1

    @property
    def end_index(self) -> int:
        return min(self.count, self.number * self.size)


def clamp_page(page: Any, page_size: Any = DEFAULT_PAGE_SIZE) -> tuple[int, int]:
    """Coerce untrusted page numbers (from a query string) to valid ones."""
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    try:
        size = min(MAX_PAGE_SIZE, max(1, int(page_size)))
    except (TypeError, ValueError):
        size = DEFAULT_PAGE_SIZE
    return number, size


def paginate(queryset: QuerySet[Any], page: int, page_size: int) -> Page:
    """Slice one page out of an ordered queryset; the count runs in the database."""
    count = queryset.count()
    start = (page - 1) * page_size
    items = list(queryset[start : start + page_size]) if start < count else []
    return Page(items=items, count=count, number=page, size=page_size)
