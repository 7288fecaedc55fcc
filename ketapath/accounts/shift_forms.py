"""Forms for the shift pages. They parse input; the shift services validate the rules, and
their errors are put back beside the fields they name."""

from typing import Any

from django import forms

from ketapath.accounts.models import Role, ShiftException, User, Weekday

MESSAGE_WEEKDAYS_REQUIRED = "Tick at least one weekday."
MESSAGE_STAFF_REQUIRED = "Choose the staff member."

ROLE_LABELS = dict(Role.choices)


def staff_choices(members: list[User]) -> list[tuple[str, str]]:
    """Each member as "Name — Role, Role" (roles at the site, prefetched)."""
    choices: list[tuple[str, str]] = []
    for member in members:
        roles = [ROLE_LABELS.get(m.role, m.role) for m in getattr(member, "site_memberships", [])]
        label = f"{member.display_name} — {', '.join(roles)}" if roles else member.display_name
        choices.append((str(member.pk), label))
    return choices


def _time_field(label: str, *, required: bool, help_text: str = "") -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


class _StaffForm(forms.Form):
    user = forms.ChoiceField(
        label="Staff member", error_messages={"required": MESSAGE_STAFF_REQUIRED}
    )

    def __init__(self, *args: Any, members: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a staff member"), *staff_choices(members)]


class ShiftForm(_StaffForm):
    weekdays = forms.TypedMultipleChoiceField(
        label="Weekdays",
        choices=[(str(value), label) for value, label in Weekday.choices],
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": MESSAGE_WEEKDAYS_REQUIRED},
        help_text="Tick every weekday with these hours; each becomes its own weekly shift.",
    )
    starts = _time_field("Starts", required=True)
    ends = _time_field(
        "Ends", required=True, help_text="The same day: a shift cannot run past midnight."
    )


class ShiftExceptionForm(_StaffForm):
    date = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A local date at this site.",
    )
    kind = forms.ChoiceField(
        label="What changes",
        choices=ShiftException.Kind.choices,
        widget=forms.RadioSelect,
        initial=ShiftException.Kind.OFF,
    )
    starts = _time_field(
        "From", required=False, help_text="For time off, leave both times empty for a whole day."
    )
    ends = _time_field("Until", required=False, help_text="An extra shift needs both times.")
    reason = forms.CharField(
        max_length=200, help_text="Shown to staff, e.g. 'Conference' or 'Saturday clinic'."
    )
