"""One pagination rule for pages and the API."""

import pytest
from django.contrib.auth.models import Group

from ketapath.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, clamp_page, paginate


@pytest.mark.parametrize(
    ("page", "size", "expected"),
    [
        ("3", "10", (3, 10)),
        (None, None, (1, DEFAULT_PAGE_SIZE)),
        ("abc", "xyz", (1, DEFAULT_PAGE_SIZE)),
        ("0", "0", (1, 1)),
        ("-4", "-1", (1, 1)),
        ("2", "1000", (2, MAX_PAGE_SIZE)),
        (7, 25, (7, 25)),
    ],
)
def test_clamp_page(page: object, size: object, expected: tuple[int, int]) -> None:
    assert clamp_page(page, size) == expected


def test_defaults() -> None:
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (25, 100)
    assert clamp_page("2") == (2, DEFAULT_PAGE_SIZE)


@pytest.fixture
def groups(db: None) -> list[Group]:
    return [Group.objects.create(name=f"group-{i:02d}") for i in range(12)]


def test_paginate_slices_and_counts(groups: list[Group]) -> None:
    qs = Group.objects.order_by("name")
    first = paginate(qs, 1, 5)
    assert [g.name for g in first.items] == [g.name for g in groups[:5]]
    assert (first.count, first.number, first.size, first.num_pages) == (12, 1, 5, 3)
    assert (first.has_previous, first.has_next) == (False, True)
    assert (first.start_index, first.end_index) == (1, 5)
    last = paginate(qs, 3, 5)
    assert [g.name for g in last.items] == [g.name for g in groups[10:]]
    assert (last.has_previous, last.has_next) == (True, False)
    assert (last.start_index, last.end_index) == (11, 12)


def test_beyond_the_last_page_is_empty(groups: list[Group]) -> None:
    beyond = paginate(Group.objects.order_by("name"), 4, 5)
    assert beyond.items == []
    assert beyond.count == 12
    assert not beyond.has_next


def test_empty_queryset(db: None) -> None:
    page = paginate(Group.objects.order_by("name"), 1, 25)
    assert (page.items, page.count, page.num_pages, page.start_index, page.end_index) == (
        [],
        0,
        1,
        0,
        0,
    )


def test_exact_multiple_has_no_extra_page() -> None:
    page = Page(items=[], count=50, number=2, size=25)
    assert page.num_pages == 2
    assert not page.has_next


def test_paginate_runs_two_queries(groups: list[Group], django_assert_num_queries: object) -> None:
    with django_assert_num_queries(2):  # type: ignore[operator]
        paginate(Group.objects.order_by("name"), 2, 5)
