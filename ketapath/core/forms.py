"""Form helpers every app's pages share."""

from django import forms
from django.http import HttpRequest

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


def safe_next(request: HttpRequest) -> str | None:
    """The ``next`` page named in the query or form, when it is a path on this site; a
    page that sends a user elsewhere to enter data uses it to bring them back."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None
