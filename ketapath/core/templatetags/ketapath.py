"""Template filters used on every page (loaded as a builtin)."""

from datetime import date

from django import template
from django.utils import timezone

from ketapath.core.timeutils import age_on
from ketapath.core.validators import format_phone

register = template.Library()


@register.filter
def age(birth_date: date | None) -> str:
    """Age in whole years today."""
    return "" if birth_date is None else str(age_on(birth_date, timezone.localdate()))


@register.filter
def phone(value: str) -> str:
    return format_phone(value)


@register.filter
def lookup(mapping: object, key: object) -> object:
    """``mapping[key]`` for a dict in a template, or "" when absent."""
    if isinstance(mapping, dict):
        return mapping.get(key, "")
    return ""
