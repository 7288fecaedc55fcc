"""Report pages of the ledger: the medical director's reconciliation of the current site
(page, CSV and PDF) and a patient's dispensing log.

The reconciliation is for the medical director (LEDGER_RECONCILE) of the site; the
exports are audited as exports. The dispensing log is for those who handle or reconcile
the ledger at the patient's site (nurses, prescribers, the medical director); each page of
it is audited as a read of the patient's record. Times are the site's local times with
the zone shown.
"""

from datetime import date
from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.errors import ApplicationError, NotFound
from ketapath.core.pagination import clamp_page
from ketapath.core.timeutils import local_today
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request
from ketapath.pharmacy import reports, selectors
from ketapath.pharmacy.models import Substance

MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_DATE = "Enter a date as YYYY-MM-DD."
MESSAGE_DATE_ORDER = "The end date must be on or after the start date."
MESSAGE_SUBSTANCE = "Choose a substance from the list."
# A longer period is still possible; only a typing slip (a year too early) is refused.
MAX_PERIOD_DAYS = 3 * 366
MESSAGE_PERIOD_TOO_LONG = "Choose a period of at most three years."


class ReconciliationForm(forms.Form):
    date_from = forms.DateField(
        label="From",
        error_messages={"required": MESSAGE_DATE, "invalid": MESSAGE_DATE},
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The site's local date, included.",
    )
    date_to = forms.DateField(
        label="To",
        error_messages={"required": MESSAGE_DATE, "invalid": MESSAGE_DATE},
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included.",
    )
    substance = forms.ChoiceField(
        label="Substance",
        choices=Substance.choices,
        error_messages={"invalid_choice": MESSAGE_SUBSTANCE, "required": MESSAGE_SUBSTANCE},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if end < start:
                self.add_error("date_to", MESSAGE_DATE_ORDER)
            elif (end - start).days > MAX_PERIOD_DAYS:
                self.add_error("date_from", MESSAGE_PERIOD_TOO_LONG)
        return data


def this_month(today: date) -> tuple[date, date]:
    """From the first of the month to today."""
    return today.replace(day=1), today


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _site(request: HttpRequest) -> Clinic:
    """The site to reconcile: the one named by ``clinic`` (an export link keeps the site
    it was made for), else the current site; the user must be its medical director."""
    raw = request.GET.get("clinic")
    clinic_id: UUID | None = None
    if raw:
        try:
            clinic_id = UUID(raw)
        except ValueError as exc:
            raise Http404(selectors.MESSAGE_SITE_NOT_FOUND) from exc
    else:
        current: Clinic | None = getattr(request, "clinic", None)
        if current is None:
            raise PermissionDenied(MESSAGE_NO_SITE)
        clinic_id = current.id
    try:
        return selectors.clinic_for_reconciliation(user=_user(request), clinic_id=clinic_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        raise PermissionDenied(exc.message) from exc


def _form(request: HttpRequest, clinic: Clinic) -> ReconciliationForm:
    data = request.GET.copy()
    start, end = this_month(local_today(clinic.time_zone))
    data.setdefault("date_from", start.isoformat())
    data.setdefault("date_to", end.isoformat())
    data.setdefault("substance", Substance.KETAMINE)
    return ReconciliationForm(data)


def _query(clinic: Clinic, form: ReconciliationForm) -> str:
    return urlencode(
        {
            "clinic": str(clinic.id),
            "date_from": form.cleaned_data["date_from"].isoformat(),
            "date_to": form.cleaned_data["date_to"].isoformat(),
            "substance": form.cleaned_data["substance"],
        }
    )


def _reconcile(form: ReconciliationForm, clinic: Clinic) -> selectors.Reconciliation:
    return selectors.reconciliation(
        clinic=clinic,
        substance=form.cleaned_data["substance"],
        date_from=form.cleaned_data["date_from"],
        date_to=form.cleaned_data["date_to"],
    )


def _page(
    request: HttpRequest,
    clinic: Clinic,
    form: ReconciliationForm,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "clinic": clinic,
        "form": form,
        "report": None,
        "retention_note": reports.RETENTION_NOTE,
    }
    if form.is_valid():
        report = _reconcile(form, clinic)
        query = _query(clinic, form)
        context.update(
            {
                "report": report,
                "figures": _figure_rows(report),
                "status_words": reports.status_words(report),
                "drawn_note": reports.drawn_note(report),
                "count_words": reports.count_words(report),
                "csv_url": reverse("pharmacy:reconciliation_csv") + "?" + query,
                "pdf_url": reverse("pharmacy:reconciliation_pdf") + "?" + query,
                "schedule": reports.substance_words(report),
            }
        )
    return render(request, "pharmacy/reports/reconciliation.html", context, status=status)


def _figure_rows(report: selectors.Reconciliation) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "label": label,
            "sign": reports.SIGNS.get(key, ""),
            "value": getattr(report, key),
            "total": key in ("expected_closing_mg", "counted_closing_mg", "discrepancy_mg"),
        }
        for key, label in reports.FIGURES
    ]


@login_required
@require_GET
def reconciliation(request: HttpRequest) -> HttpResponse:
    clinic = _site(request)
    return _page(request, clinic, _form(request, clinic))


def _export(request: HttpRequest, kind: str) -> HttpResponse:
    clinic = _site(request)
    form = _form(request, clinic)
    if not form.is_valid():
        return _page(request, clinic, form, status=400)
    report = _reconcile(form, clinic)
    user = _user(request)
    now = timezone.now()
    if kind == "csv":
        response = HttpResponse(
            reports.reconciliation_csv(report, generated_by=user, generated_at=now),
            content_type="text/csv; charset=utf-8",
        )
    else:
        response = HttpResponse(
            reports.reconciliation_pdf(report, generated_by=user, generated_at=now),
            content_type="application/pdf",
        )
    response["Content-Disposition"] = f'attachment; filename="{reports.filename(report, kind)}"'
    audit(
        user=user,
        action=Action.EXPORT,
        clinic_id=clinic.id,
        object_type="reconciliation",
        detail={
            "format": kind,
            "substance": report.substance,
            "date_from": report.date_from.isoformat(),
            "date_to": report.date_to.isoformat(),
        },
    )
    return response


@login_required
@require_GET
def reconciliation_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv")


@login_required
@require_GET
def reconciliation_pdf(request: HttpRequest) -> HttpResponse:
    return _export(request, "pdf")


@login_required
@require_GET
def dispensing_log(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id)
    user = _user(request)
    try:
        sites = selectors.dispensing_log_sites(user=user, patient=patient)
    except ApplicationError as exc:
        raise PermissionDenied(exc.message) from exc
    number, size = clamp_page(request.GET.get("page"))
    page = selectors.dispensing_log(patient=patient, clinic_ids=sites, page=number, page_size=size)
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=site.id,
        object_type="dispensing_log",
        object_id=patient.id,
        detail={"page": page.number, "shown": len(page.items), "count": page.count},
    )
    return render(
        request,
        "pharmacy/reports/dispensing_log.html",
        {
            "patient": patient,
            "page": page,
            "querystring": "",
            "several_sites": len(sites) > 1,
        },
    )
