"""Medication pages: the patient's list with MME and flags, add, stop, record a PDMP check."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError
from ketapath.core.forms import apply_errors
from ketapath.core.timeutils import local_today
from ketapath.medications import selectors, services
from ketapath.medications.forms import MedicationForm, MedicationStopForm, PdmpCheckForm
from ketapath.medications.rules import FLAG_TEXT, NALOXONE_PROMPT
from ketapath.patients.models import Patient
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request

# How many PDMP checks and stopped medications the list page shows (newest first).
PDMP_SHOWN = 10


def _writer(request: HttpRequest, patient_id: UUID) -> tuple[Patient, Clinic]:
    patient = patient_for_request(
        request, patient_id, Capability.EVALUATION_DRAFT, audit_read=request.method == "GET"
    )
    return patient, patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))


@login_required
def medication_list(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, Capability.PATIENT_READ)
    user: User = request.user  # type: ignore[assignment]
    summary = selectors.current_medications_summary(patient)
    show_stopped = request.GET.get("stopped") == "1"
    stopped = []
    if show_stopped:
        stopped = [
            m
            for m in selectors.medications_for_patient(patient=patient, include_stopped=True)
            if not selectors.is_active(m, summary.on)
        ]
    checks = list(selectors.pdmp_checks_for_patient(patient=patient)[:PDMP_SHOWN])
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="medication",
        detail={"page": "medication_list", "stopped": show_stopped},
    )
    can_write = bool(getattr(patient, "access_clinic_ids", set())) and any(
        user.can(Capability.EVALUATION_DRAFT, cid)
        for cid in getattr(patient, "access_clinic_ids", set())
    )
    return render(
        request,
        "medications/list.html",
        {
            "patient": patient,
            "summary": summary,
            "flag_text": FLAG_TEXT,
            "naloxone_prompt": NALOXONE_PROMPT,
            "show_stopped": show_stopped,
            "stopped": stopped,
            "checks": checks,
            "can_write": can_write,
            "time_zone": patient.preferred_clinic.time_zone,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def medication_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient, clinic = _writer(request, patient_id)
    initial = {"start_date": local_today(clinic.time_zone)}
    form = MedicationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            med = services.medication_add(
                user=request.user,  # type: ignore[arg-type]
                patient=patient,
                clinic=clinic,
                data=form.service_data(),
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{med.drug_name} added to the medication list.")
            return redirect("medications:list", patient_id=patient.id)
    return render(request, "medications/form.html", {"form": form, "patient": patient})


@login_required
@require_http_methods(["GET", "POST"])
def medication_stop(request: HttpRequest, patient_id: UUID, medication_id: UUID) -> HttpResponse:
    patient, clinic = _writer(request, patient_id)
    med = selectors.medication_for_patient(patient=patient, medication_id=medication_id)
    if med is None:
        raise Http404
    initial = {"stop_date": local_today(clinic.time_zone)}
    form = MedicationStopForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.medication_stop(
                user=request.user,  # type: ignore[arg-type]
                medication=med,
                clinic=clinic,
                stop_date=form.cleaned_data["stop_date"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{med.drug_name} stopped.")
            return redirect("medications:list", patient_id=patient.id)
    return render(
        request,
        "medications/stop.html",
        {"form": form, "patient": patient, "medication": med},
    )


@login_required
@require_http_methods(["GET", "POST"])
def pdmp_check_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient, clinic = _writer(request, patient_id)
    form = PdmpCheckForm(request.POST or None, initial={"state": clinic.state})
    if request.method == "POST" and form.is_valid():
        try:
            services.pdmp_check_record(
                user=request.user,  # type: ignore[arg-type]
                patient=patient,
                clinic=clinic,
                state=form.cleaned_data["state"],
                result=form.cleaned_data["result"],
                note=form.cleaned_data["note"],
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "PDMP check recorded.")
            return redirect("medications:list", patient_id=patient.id)
    return render(request, "medications/pdmp_form.html", {"form": form, "patient": patient})
