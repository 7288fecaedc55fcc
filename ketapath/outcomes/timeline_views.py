"""Pages of a patient's timeline: the full chart with every value in a paginated table, and
the progress report form whose submission downloads the PDF and records the disclosure.

Both need login and PATIENT_READ at a site where the patient is enrolled (another site's
patient 404, a role without it 403); every read of the timeline is audited.
"""

from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.errors import InvalidInput
from ketapath.core.pagination import Page, clamp_page
from ketapath.outcomes import report
from ketapath.outcomes.timeline import (
    course_key,
    data_rows,
    describe,
    patient_timeline,
    timeline_svg,
)
from ketapath.outcomes.timeline_api import TIMELINE_CAPABILITY
from ketapath.patients.views import patient_for_request

RECIPIENT_CHOICES = [
    (report.RECIPIENT_PATIENT, "The patient"),
    (report.RECIPIENT_PHYSICIAN, "The referring physician"),
]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
@require_GET
def timeline_page(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, TIMELINE_CAPABILITY)
    timeline = patient_timeline(patient=patient)
    rows = data_rows(timeline)
    number, size = clamp_page(request.GET.get("page"))
    start = (number - 1) * size
    page = Page(items=rows[start : start + size], count=len(rows), number=number, size=size)
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="outcome_timeline",
        object_id=patient.id,
        detail={"via": "page", "page": number},
    )
    svg = timeline_svg(timeline, time_zone=timeline.time_zone, id_prefix="page-tl")
    return render(
        request,
        "outcomes/timeline.html",
        {
            "patient": patient,
            "timeline": timeline,
            "timeline_svg": mark_safe(svg),  # noqa: S308 — built from numbers and our labels, escaped
            "summary": describe(timeline, time_zone=timeline.time_zone),
            "course_key": course_key(timeline),
            "rows": page.items,
            "page": page,
            "querystring": "",
            "time_zone": timeline.time_zone,
        },
    )


class ReportForm(forms.Form):
    """The release's fields; their rules are the service's (``report.release_validate``), so
    the page and the API say the same thing."""

    recipient = forms.CharField(
        label="Who is the report for?",
        widget=forms.RadioSelect(choices=RECIPIENT_CHOICES),
        initial=report.RECIPIENT_PATIENT,
        required=False,
    )
    recipient_name = forms.CharField(
        label="Referring physician's name",
        required=False,
        help_text="Only when the report goes to the referring physician.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "maxlength": report.RECIPIENT_NAME_MAX}
        ),
    )
    purpose = forms.CharField(
        label="Purpose of the release",
        required=False,
        initial=report.DEFAULT_PURPOSE,
        help_text=f"Why the report is released (at most {report.PURPOSE_MAX} characters). "
        "It is recorded in the audit trail.",
        widget=forms.TextInput(attrs={"maxlength": report.PURPOSE_MAX}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def report_page(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """GET: the form. POST: the PDF as a download, its release recorded as a disclosure; bad
    input shows the form again with each error beside its field and records nothing."""
    patient = patient_for_request(
        request, patient_id, TIMELINE_CAPABILITY, audit_read=request.method == "GET"
    )
    status = 200
    if request.method == "POST":
        form = ReportForm(request.POST)
        form.is_valid()
        data: dict[str, Any] = form.cleaned_data
        try:
            pdf = report.report_release(
                user=_user(request),
                patient=patient,
                recipient=data.get("recipient", ""),
                recipient_name=data.get("recipient_name", ""),
                purpose=data.get("purpose", ""),
            )
        except InvalidInput as exc:
            for error in exc.errors:
                form.add_error(error.field if error.field in form.fields else None, error.rule)
            status = 422
        else:
            response = HttpResponse(pdf, content_type="application/pdf")
            filename = report.report_filename(
                patient, timezone.now(), patient.preferred_clinic.time_zone
            )
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
    else:
        form = ReportForm(
            initial={
                "recipient": report.RECIPIENT_PATIENT,
                "purpose": report.DEFAULT_PURPOSE,
            }
        )
    if patient.referring_provider_name:
        on_file = ", ".join(
            x for x in (patient.referring_provider_name, patient.referring_provider_practice) if x
        )
        form.fields["recipient_name"].help_text += f" On file: {on_file}."
    return render(
        request,
        "outcomes/report.html",
        {"patient": patient, "form": form},
        status=status,
    )
