"""Forms for staff management: account, roles at the current site, credentials, password."""

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from ketapath.accounts.models import LicenceType, Role, User

MESSAGE_ROLE_REQUIRED = "Choose at least one role at this site."
MESSAGE_PASSWORD_MISMATCH = "The two passwords differ; type the same password twice."
PASSWORD_HELP = " ".join(password_validation.password_validators_help_texts())

# Plain account and credential fields, in the order the form shows them.
USER_FIELDS = (
    "username", "first_name", "last_name", "title", "email", "licence_type", "licence_number",
    "licence_state", "licence_expires", "dea_number", "dea_expires", "acls_expires", "npi",
)  # fmt: skip
ACCOUNT_FIELDS = ("username", "first_name", "last_name", "title", "email")
CREDENTIAL_FIELDS = (
    "licence_type", "licence_number", "licence_state", "licence_expires", "dea_number",
    "dea_expires", "acls_expires", "npi",
)  # fmt: skip


def _date_field(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class StaffForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="Used to sign in: letters, digits and @/./+/-/_ only.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150)
    title = forms.CharField(
        max_length=40, required=False, help_text="How the name is shown, e.g. 'MD' or 'RN'."
    )
    email = forms.EmailField(label="E-mail", required=False)
    roles = forms.MultipleChoiceField(
        label="Roles at this site",
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this person may do at this site; roles at other sites are not changed.",
    )
    licence_type = forms.ChoiceField(
        label="Licence type", choices=[("", "—"), *LicenceType.choices], required=False
    )
    licence_number = forms.CharField(label="Licence number", max_length=40, required=False)
    licence_state = forms.CharField(
        label="Licence state",
        max_length=2,
        required=False,
        help_text="Two-letter code, e.g. CO.",
    )
    licence_expires = _date_field("Licence expiry", "Leave empty if the licence has none.")
    dea_number = forms.CharField(
        label="DEA number", max_length=9, required=False, help_text="Two letters, seven digits."
    )
    dea_expires = _date_field("DEA expiry", "Needed with a DEA number.")
    acls_expires = _date_field("ACLS expiry", "Needed to document sessions.")
    npi = forms.CharField(label="NPI", max_length=10, required=False, help_text="Ten digits.")

    def clean_licence_state(self) -> str:
        return str(self.cleaned_data.get("licence_state") or "").strip().upper()

    def clean_dea_number(self) -> str:
        return str(self.cleaned_data.get("dea_number") or "").strip().upper()

    def user_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in USER_FIELDS}

    def role_set(self) -> set[str]:
        return set(self.cleaned_data.get("roles") or [])

    def _candidate(self) -> User:
        """An unsaved user with the typed names, for the password-similarity check."""
        data = self.cleaned_data
        return User(
            username=data.get("username") or "",
            first_name=data.get("first_name") or "",
            last_name=data.get("last_name") or "",
            email=data.get("email") or "",
        )

    def _check_passwords(self, first: str, second: str) -> None:
        """Both boxes equal, and Django's password validators (length, similarity to the
        names, common and all-digit passwords) pass."""
        if not first and not second:
            return
        if first != second:
            self.add_error("password2", MESSAGE_PASSWORD_MISMATCH)
            return
        try:
            password_validation.validate_password(first, user=self._candidate())
        except forms.ValidationError as exc:
            self.add_error("password1", exc)


class StaffCreateForm(StaffForm):
    password1 = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=PASSWORD_HELP,
    )
    password2 = forms.CharField(
        label="Initial password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("roles"):
            self.add_error("roles", MESSAGE_ROLE_REQUIRED)
        self._check_passwords(data.get("password1") or "", data.get("password2") or "")
        return data


class StaffEditForm(StaffForm):
    password1 = forms.CharField(
        label="New password",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"Leave empty to keep the current password. {PASSWORD_HELP}",
    )
    password2 = forms.CharField(
        label="New password again",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._check_passwords(data.get("password1") or "", data.get("password2") or "")
        return data

    def new_password(self) -> str | None:
        return self.cleaned_data.get("password1") or None

    @staticmethod
    def initial_for(user: User, roles: list[str]) -> dict[str, Any]:
        return {**{name: getattr(user, name) for name in USER_FIELDS}, "roles": roles}
