"""Shares and intervals of the outcomes pages, as whole percentages."""

from django import template

register = template.Library()


@register.filter
def share(value: float | None) -> str:
    """0.4567 → "46 %"; None → "—"."""
    return "—" if value is None else f"{value * 100:.0f} %"


@register.filter
def interval(value: tuple[float, float] | None) -> str:
    """(0.31, 0.62) → "31–62 %"; None → ""."""
    return "" if value is None else f"{value[0] * 100:.0f}–{value[1] * 100:.0f} %"
