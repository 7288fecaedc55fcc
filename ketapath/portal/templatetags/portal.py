"""Template filters of the patient pages."""

from django import template

from ketapath.notifications.privacy import plain

register = template.Library()


@register.filter
def public_name(name: str) -> str:
    """A site's name as a patient page shows it: a link can be opened by whoever holds the
    phone, so the name says nothing about the treatment ("Denver Ketamine Clinic" →
    "Denver Clinic"), as in the messages."""
    return plain(name or "", "your clinic")
