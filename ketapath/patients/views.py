"""Patient pages: list and search, register, edit, consents, escorts, enrolment at a site."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where, user_can
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden, InvalidInput, NotFound
from ketapath.core.forms import ConfirmForm, apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.patients import selectors, services
from ketapath.patients.forms import (
    AllergyForm,
    AllergyRemoveForm,
    ConsentDocumentForm,
    ConsentForm,
    ConsentWithdrawForm,
    EscortForm,
    PatientForm,
    PatientSearchForm,
)
from ketapath.patients.models import Allergy, Consent, ConsentDocument, Escort, Patient

MESSAGE_NO_SITE = "You are not a member of any active site."


def patient_for_request(
    request: HttpRequest,
    patient_id: UUID,
    capability: Capability = Capability.PATIENT_READ,
    *,
    audit_read: bool = False,
) -> Patient:
    """The scoped patient for a page: 404 outside the user's sites, 403 for the role."""
    try:
        return selectors.patient_get_for_user(
            user=request.user,  # type: ignore[arg-type]
            patient_id=patient_id,
            capability=capability,
            audit_read=audit_read,
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def _current_clinic(request: HttpRequest, capability: Capability) -> Clinic:
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    if not user_can(request.user, capability, clinic.id):
        raise PermissionDenied(f"Your role at {clinic.name} does not allow this.")
    return clinic


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    visible = clinics_where(user, Capability.PATIENT_READ)
    if not visible:
        raise PermissionDenied(MESSAGE_NO_SITE)
    clinics = list(Clinic.objects.filter(id__in=visible).order_by("name"))
    form = PatientSearchForm(request.GET or None, clinics=clinics)
    q, clinic_id = "", None
    if form.is_valid():
        q = form.cleaned_data["q"]
        clinic_id = UUID(form.cleaned_data["clinic"]) if form.cleaned_data["clinic"] else None
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(selectors.patient_list(user=user, q=q, clinic_id=clinic_id), number, size)
    audit(
        user=user,
        action=Action.SEARCH,
        clinic_id=getattr(request, "clinic_id", None),
        object_type="patient",
        detail={
            "q": q,
            "clinic": str(clinic_id or ""),
            "page": number,
            "patients": [str(p.id) for p in page.items],
        },
    )
    filters = {k: v for k, v in {"q": q, "clinic": str(clinic_id or "")}.items() if v}
    return render(
        request,
        "patients/list.html",
        {
            "form": form,
            "page": page,
            "querystring": urlencode(filters),
            "can_register": user_can(
                user, Capability.PATIENT_WRITE, getattr(request, "clinic_id", None)
            ),
            "q": q,
        },
    )


def _refused(
    form: PatientForm, exc: ApplicationError, user: User, exclude_id: UUID | None = None
) -> list[Patient]:
    """Show the service's refusal on the form; for a likely duplicate, the candidates."""
    duplicates = []
    if exc.code == "likely_duplicate":
        duplicates = selectors.patient_likely_duplicates(
            user=user,
            given_name=form.cleaned_data["given_name"],
            family_name=form.cleaned_data["family_name"],
            birth_date=form.cleaned_data["birth_date"],
            exclude_id=exclude_id,
        )
    apply_errors(form, exc)  # adding errors removes fields from cleaned_data: do it last
    return duplicates


@login_required
@require_http_methods(["GET", "POST"])
def patient_new(request: HttpRequest) -> HttpResponse:
    clinic = _current_clinic(request, Capability.PATIENT_WRITE)
    user: User = request.user  # type: ignore[assignment]
    write_sites = clinics_where(user, Capability.PATIENT_WRITE)
    duplicates: list[Patient] = []
    if request.method == "POST":
        form = PatientForm(request.POST, clinic_ids=write_sites)
        if form.is_valid():
            try:
                patient = services.patient_create(
                    user=user,
                    clinic=clinic,
                    data=form.service_data(),
                    confirm_not_duplicate=form.cleaned_data["confirm_not_duplicate"],
                )
            except ApplicationError as exc:
                duplicates = _refused(form, exc, user)
            else:
                messages.success(
                    request, f"{patient.display_name} registered with MRN {patient.mrn}."
                )
                return redirect("chart:patient", patient_id=patient.id)
    else:
        form = PatientForm(initial={"preferred_clinic": clinic.id}, clinic_ids=write_sites)
    return render(
        request,
        "patients/form.html",
        {"form": form, "duplicates": duplicates, "clinic": clinic, "creating": True},
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    user: User = request.user  # type: ignore[assignment]
    sites = clinics_where(user, Capability.PATIENT_WRITE) | {patient.preferred_clinic_id}
    duplicates: list[Patient] = []
    if request.method == "POST":
        form = PatientForm(request.POST, instance=patient, clinic_ids=sites)
        if form.is_valid():
            try:
                services.patient_update(
                    user=user,
                    patient=patient,
                    data=form.service_data(),
                    confirm_not_duplicate=form.cleaned_data["confirm_not_duplicate"],
                )
            except ApplicationError as exc:
                duplicates = _refused(form, exc, user, exclude_id=patient.id)
            else:
                messages.success(request, "Patient details saved.")
                return redirect("chart:patient", patient_id=patient.id)
    else:
        form = PatientForm(instance=patient, clinic_ids=sites)
    return render(
        request,
        "patients/form.html",
        {"form": form, "patient": patient, "duplicates": duplicates, "creating": False},
    )


@login_required
@require_http_methods(["GET", "POST"])
def consent_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    clinic = _current_clinic(request, Capability.PATIENT_WRITE)
    form = ConsentForm(request.POST or None, initial={"kind": request.GET.get("kind", "")})
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_record(
                user=request.user,  # type: ignore[arg-type]
                patient=patient,
                clinic=clinic,
                kind=form.cleaned_data["kind"],
                signed_by_name=form.cleaned_data["signed_by_name"],
                signer_relation=form.cleaned_data["signer_relation"],
                signed_at=form.cleaned_data["signed_at"],
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Consent recorded.")
            return redirect("chart:patient", patient_id=patient.id)
    documents = selectors.consent_documents_current(organization_id=patient.organization_id)
    return render(
        request,
        "patients/consent_form.html",
        {"form": form, "patient": patient, "documents": documents, "clinic": clinic},
    )


@login_required
@require_http_methods(["GET", "POST"])
def consent_withdraw(request: HttpRequest, patient_id: UUID, consent_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    consent = get_object_or_404(
        Consent.objects.select_related("document"), id=consent_id, patient=patient
    )
    form = ConsentWithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_withdraw(
                user=request.user,  # type: ignore[arg-type]
                consent=consent,
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Consent marked as withdrawn.")
            return redirect("chart:patient", patient_id=patient.id)
    return render(
        request,
        "patients/consent_withdraw.html",
        {"form": form, "patient": patient, "consent": consent},
    )


@login_required
@require_http_methods(["GET", "POST"])
def escort_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    form = EscortForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.escort_add(user=request.user, patient=patient, **form.cleaned_data)  # type: ignore[arg-type]
        except InvalidInput as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Escort added.")
            return redirect("chart:patient", patient_id=patient.id)
    return render(request, "patients/escort_form.html", {"form": form, "patient": patient})


@login_required
@require_http_methods(["GET", "POST"])
def escort_remove(request: HttpRequest, patient_id: UUID, escort_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    escort = get_object_or_404(Escort, id=escort_id, patient=patient, active=True)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.escort_deactivate(user=request.user, escort=escort)  # type: ignore[arg-type]
        messages.success(request, f"{escort.name} is no longer listed as an escort.")
        return redirect("chart:patient", patient_id=patient.id)
    return render(
        request, "patients/escort_remove.html", {"form": form, "patient": patient, "escort": escort}
    )


@login_required
@require_POST
def patient_enrol(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    try:
        clinic_uuid = UUID(request.POST.get("clinic", ""))
    except ValueError as exc:
        raise Http404 from exc
    if clinic_uuid not in clinics_where(request.user, Capability.PATIENT_WRITE):
        raise Http404
    clinic = get_object_or_404(Clinic, id=clinic_uuid)
    try:
        services.patient_enrol(user=request.user, patient=patient, clinic=clinic)  # type: ignore[arg-type]
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Enrolled at {clinic.name}.")
    return redirect(reverse("chart:patient", kwargs={"patient_id": patient.id}))


def _organization_ids(request: HttpRequest) -> set[UUID]:
    ids = clinics_where(request.user, Capability.PATIENT_READ)
    if not ids:
        raise PermissionDenied(MESSAGE_NO_SITE)
    return set(Clinic.objects.filter(id__in=ids).values_list("organization_id", flat=True))


@login_required
def consent_document_list(request: HttpRequest) -> HttpResponse:
    orgs = _organization_ids(request)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(
        ConsentDocument.objects.filter(organization_id__in=orgs).order_by("kind", "-version"),
        number,
        size,
    )
    can_publish = user_can(
        request.user, Capability.POLICY_WRITE, getattr(request, "clinic_id", None)
    )
    current = {
        doc.id
        for org in orgs
        for doc in selectors.consent_documents_current(organization_id=org).values()
    }
    return render(
        request,
        "patients/consent_documents.html",
        {
            "page": page,
            "querystring": "",
            "can_publish": can_publish,
            "current_ids": current,
            "today": timezone.localdate(),
        },
    )


@login_required
def consent_document_detail(request: HttpRequest, document_id: UUID) -> HttpResponse:
    document = get_object_or_404(
        ConsentDocument, id=document_id, organization_id__in=_organization_ids(request)
    )
    return render(request, "patients/consent_document.html", {"document": document})


@login_required
@require_http_methods(["GET", "POST"])
def consent_document_new(request: HttpRequest) -> HttpResponse:
    clinic = _current_clinic(request, Capability.POLICY_WRITE)
    form = ConsentDocumentForm(request.POST or None, initial={"kind": request.GET.get("kind", "")})
    if request.method == "POST" and form.is_valid():
        try:
            document = services.consent_document_publish(
                user=request.user,  # type: ignore[arg-type]
                organization=clinic.organization,
                **form.cleaned_data,
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{document.title} v{document.version} published.")
            return redirect("patients:consent_documents")
    return render(request, "patients/consent_document_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def allergy_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    form = AllergyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.allergy_add(user=request.user, patient=patient, **form.cleaned_data)  # type: ignore[arg-type]
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Allergy to {form.cleaned_data['substance']} recorded.")
            return redirect("chart:patient", patient_id=patient.id)
    summary = selectors.patient_allergies(patient=patient)
    return render(
        request,
        "patients/allergy_form.html",
        {"form": form, "patient": patient, "summary": summary},
    )


@login_required
@require_POST
def allergy_none_known(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, Capability.PATIENT_WRITE)
    try:
        services.allergy_none_known(user=request.user, patient=patient)  # type: ignore[arg-type]
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Recorded: no known allergies.")
    return redirect("chart:patient", patient_id=patient.id)


@login_required
@require_http_methods(["GET", "POST"])
def allergy_remove(request: HttpRequest, patient_id: UUID, allergy_id: UUID) -> HttpResponse:
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    allergy = get_object_or_404(Allergy, id=allergy_id, patient=patient, active=True)
    form = AllergyRemoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.allergy_remove(
                user=request.user,  # type: ignore[arg-type]
                allergy=allergy,
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{allergy.substance} removed from the active list.")
            return redirect("chart:patient", patient_id=patient.id)
    return render(
        request,
        "patients/allergy_remove.html",
        {"form": form, "patient": patient, "allergy": allergy},
    )
