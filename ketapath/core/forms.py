"""Form helpers every app's pages share."""

from django import forms

from ketapath.core.errors import ApplicationError

MESSAGE_CONFIRM_REQUIRED = "Tick the box to confirm."


def apply_errors(form: forms.BaseForm, exc: ApplicationError, prefix: str = "") -> None:
    """Show a service's field errors beside the form's fields (others above the form)."""
    if not exc.errors:
        form.add_error(None, exc.message)
        return
    for error in exc.errors:
        name = error.field.removeprefix(prefix)
        form.add_error(name if name in form.fields else None, error.rule)


class ConfirmForm(forms.Form):
    """The confirmation step of a destructive action, usable without JavaScript."""

    confirm = forms.BooleanField(
        label="Yes, I am sure", error_messages={"required": MESSAGE_CONFIRM_REQUIRED}
    )
