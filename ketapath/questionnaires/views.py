"""Questionnaire pages of a patient: the list of responses, entry per instrument, result."""

from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError
from ketapath.core.forms import safe_next
from ketapath.core.pagination import clamp_page, paginate
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request
from ketapath.questionnaires import selectors, services
from ketapath.questionnaires.forms import ResponseFilterForm, ResponseForm
from ketapath.questionnaires.instruments import INSTRUMENTS, get_instrument
from ketapath.questionnaires.rules import ALERT_PHQ9_ITEM9_UNKNOWN

MESSAGE_INSTRUMENT_NOT_FOUND = "No such questionnaire instrument."
MESSAGE_RESPONSE_NOT_FOUND = "No such questionnaire response for this patient."
MESSAGE_SAVED = "{title} saved."
MESSAGE_SAVED_PARTIAL = "{title} saved as a partial response: no total without every item."


@login_required
@require_GET
def response_list(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, Capability.QUESTIONNAIRE_ENTER)
    user: User = request.user  # type: ignore[assignment]
    clinic = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    instruments = [(code, i.title) for code, i in INSTRUMENTS.items()]
    form = ResponseFilterForm(request.GET or None, instruments=instruments)
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(
        selectors.response_list(patient=patient, time_zone=clinic.time_zone, **filters),
        number,
        size,
    )
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic.id,
        patient_id=patient.id,
        object_type="questionnaire_response",
        detail={"page": number, "responses": [str(r.id) for r in page.items]},
    )
    query = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in filters.items()}
    return render(
        request,
        "questionnaires/list.html",
        {
            "patient": patient,
            "clinic": clinic,
            "form": form,
            "page": page,
            "querystring": urlencode(query),
            "instruments": list(INSTRUMENTS.values()),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def response_new(request: HttpRequest, patient_id: UUID, code: str) -> HttpResponse:
    patient = patient_for_request(
        request,
        patient_id,
        Capability.QUESTIONNAIRE_ENTER,
        audit_read=request.method == "GET",
    )
    instrument = get_instrument(code)
    if instrument is None:
        raise Http404(MESSAGE_INSTRUMENT_NOT_FOUND)
    clinic = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    user: User = request.user  # type: ignore[assignment]
    # Times typed in the form are the chosen site's local times.
    with timezone.override(ZoneInfo(clinic.time_zone)):
        form = ResponseForm(request.POST or None, instrument=instrument)
        if request.method == "POST" and form.is_valid():
            try:
                response = services.response_record(
                    user=user,
                    patient=patient,
                    clinic=clinic,
                    instrument_code=instrument.code,
                    answers=form.answers(),
                    context=form.cleaned_data["context"],
                    collected_at=form.cleaned_data["collected_at"],
                )
            except ApplicationError as exc:
                for error in exc.errors or []:
                    form.add_error(form.service_error_field(error.field), error.rule)
                if not exc.errors:
                    form.add_error(None, exc.message)
            else:
                template = MESSAGE_SAVED if response.complete else MESSAGE_SAVED_PARTIAL
                messages.success(request, template.format(title=instrument.title))
                back = safe_next(request)
                if back:
                    return redirect(back)
                return redirect(
                    "questionnaires:detail", patient_id=patient.id, response_id=response.id
                )
        return render(
            request,
            "questionnaires/form.html",
            {"patient": patient, "clinic": clinic, "instrument": instrument, "form": form},
        )


@login_required
@require_GET
def response_detail(request: HttpRequest, patient_id: UUID, response_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, Capability.QUESTIONNAIRE_ENTER)
    response = selectors.response_get(patient=patient, response_id=response_id)
    if response is None:
        raise Http404(MESSAGE_RESPONSE_NOT_FOUND)
    audit(
        user=request.user,
        action=Action.READ,
        clinic_id=response.clinic_id,
        patient_id=patient.id,
        object_type="questionnaire_response",
        object_id=response.id,
    )
    instrument = get_instrument(response.instrument)
    rows = []
    if instrument is not None:
        for item in instrument.items:
            value = response.answers.get(item.link_id)
            label = next((o.label for o in item.options if o.value == value), "")
            rows.append({"item": item, "value": value, "label": label})
    return render(
        request,
        "questionnaires/detail.html",
        {
            "patient": patient,
            "response": response,
            "instrument": instrument,
            "rows": rows,
            "item9_unknown": ALERT_PHQ9_ITEM9_UNKNOWN in response.alert_codes,
            "time_zone": response.clinic.time_zone,
        },
    )
