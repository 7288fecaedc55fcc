"""Evaluation pages: the patient's evaluations, the one-page evaluation in sections with the
live proposal and sign-off, addenda, and the medical director's contraindication classes.

Every section saves on its own (a draft is never lost) and the proposal beside it is
recomputed on each save. Reading needs EVALUATION_READ, editing EVALUATION_DRAFT, signing
EVALUATION_SIGN.
"""

from typing import Any
from uuid import UUID

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from ketapath.core.forms import apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import local_today
from ketapath.evaluations import catalogue, selectors, services
from ketapath.evaluations.forms import (
    SECTION_FORMS,
    AddendumForm,
    ClassesForm,
    MentalHealthForm,
    PainConditionForm,
    PriorTreatmentForm,
    SignForm,
)
from ketapath.evaluations.models import ConditionEntry, Evaluation
from ketapath.patients.models import Pathway
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request

MESSAGE_SAVED = "Saved. The proposal below is up to date."
MESSAGE_STARTED = "Draft evaluation started. Each section saves on its own."
MESSAGE_SIGNED = "Evaluation signed: {pathway}. It is valid for starting a course until {until}."
MESSAGE_ADDENDUM = "Addendum added."
MESSAGE_PICK_ONE = "Choose a condition from the list or type a code, not both."
MESSAGE_PICK_NONE = "Choose a condition from the list or type a code."
MESSAGE_CLASSES_SAVED = "Contraindication classes saved as policy version {version}."

# Service error fields → the sign form's fields.
SIGN_FIELDS = {
    "co_sign": "co_sign_username",
    "co_sign.username": "co_sign_username",
    "co_sign.password": "co_sign_password",
}
ELIGIBILITY_LABELS = {
    "eligible": ("Eligible", "badge-ok"),
    "eligible_with_precautions": ("Eligible with precautions", "badge-warn"),
    "not_eligible": ("Not eligible", "badge-danger"),
    "not_ready": ("Not ready for ketamine", "badge-neutral"),
}
SCREEN_LABELS = {
    "phq9": ("PHQ-9", "phq-9", "depression"),
    "gad7": ("GAD-7", "gad-7", "generalized anxiety"),
    "pcl5": ("PCL-5", "pcl-5", "PTSD"),
    "phq9_item9": ("PHQ-9 item 9", "phq-9", "suicide risk"),
}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _evaluation(
    request: HttpRequest, evaluation_id: UUID, capability: Capability = Capability.EVALUATION_READ
) -> Evaluation:
    try:
        return selectors.evaluation_get_for_user(
            user=_user(request), evaluation_id=evaluation_id, capability=capability
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def _can(request: HttpRequest, capability: Capability, evaluation: Evaluation) -> bool:
    return _user(request).can(capability, evaluation.clinic_id)


@login_required
def evaluation_list(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, Capability.EVALUATION_READ)
    user = _user(request)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(selectors.evaluations_for_patient(patient=patient), number, size)
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="evaluation",
        detail={"page": "evaluation_list"},
    )
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    has_draft = any(e.status == Evaluation.Status.DRAFT for e in page.items) or (
        Evaluation.objects.filter(patient=patient, status=Evaluation.Status.DRAFT).exists()
    )
    return render(
        request,
        "evaluations/list.html",
        {
            "patient": patient,
            "page": page,
            "can_draft": user.can(Capability.EVALUATION_DRAFT, site.id),
            "has_draft": has_draft,
            "rows": [
                (e, ELIGIBILITY_LABELS.get((e.proposal or {}).get("eligibility", "")))
                for e in page.items
            ],
            "today": local_today(site.time_zone),
        },
    )


@login_required
@require_POST
def evaluation_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, Capability.EVALUATION_DRAFT)
    clinic = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    try:
        evaluation = services.evaluation_start(user=_user(request), patient=patient, clinic=clinic)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("evaluations:list", patient_id=patient.id)
    messages.success(request, MESSAGE_STARTED)
    return redirect("evaluations:detail", evaluation_id=evaluation.id)


def _condition_rows(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "category": c.category,
            "code": c.code,
            "catalogue_key": c.catalogue_key,
            "is_primary": c.is_primary,
            "onset": c.onset.isoformat() if c.onset else None,
            "note": c.note,
            "id": str(c.id),
        }
        for c in evaluation.conditions.all()
    ]


def _without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _post_action(
    request: HttpRequest, evaluation: Evaluation, section: str
) -> tuple[dict[str, Any] | None, django_forms.Form | None]:
    """The service data a section's POST asks for, or its bound form with errors."""
    post = request.POST
    form: django_forms.Form
    if section in SECTION_FORMS:
        section_form = SECTION_FORMS[section](post, evaluation=evaluation)
        if not section_form.is_valid():
            return None, section_form
        return section_form.data_for_service(), section_form
    if section in ("pain_add", "mh_add"):
        form_class = PainConditionForm if section == "pain_add" else MentalHealthForm
        form = form_class(post)
        if not form.is_valid():
            return None, form
        data = form.cleaned_data
        picked = data.get("choice") if section == "pain_add" else data.get("code")
        other = (data.get("other_code") or "").strip()
        if picked and other:
            form.add_error("other_code", MESSAGE_PICK_ONE)
            return None, form
        if not picked and not other:
            form.add_error("other_code", MESSAGE_PICK_NONE)
            return None, form
        rows = _condition_rows(evaluation)
        category = "pain" if section == "pain_add" else "mental_health"
        new: dict[str, Any] = {"category": category, "is_primary": data.get("is_primary", False)}
        if section == "pain_add" and picked:
            key, _, code = str(picked).partition("|")
            new.update({"catalogue_key": key, "code": code})
        else:
            new["code"] = picked or other
        if section == "pain_add" and data.get("onset"):
            new["onset"] = data["onset"].isoformat()
        if new["is_primary"]:
            for row in rows:
                if row["category"] == category:
                    row["is_primary"] = False
        return {"conditions": _without_ids([*rows, new])}, form
    if section in ("condition_remove", "condition_primary"):
        target = post.get("condition")
        rows = _condition_rows(evaluation)
        if section == "condition_remove":
            rows = [r for r in rows if r["id"] != target]
        else:
            chosen = next((r for r in rows if r["id"] == target), None)
            if chosen is not None:
                for row in rows:
                    if row["category"] == chosen["category"]:
                        row["is_primary"] = row is chosen
        return {"conditions": _without_ids(rows)}, None
    if section == "prior_add":
        form = PriorTreatmentForm(post)
        if not form.is_valid():
            return None, form
        return {"prior_treatments": [*(evaluation.prior_treatments or []), form.cleaned_data]}, form
    if section == "prior_remove":
        try:
            index = int(post.get("index", ""))
        except ValueError:
            index = -1
        prior = [p for i, p in enumerate(evaluation.prior_treatments or []) if i != index]
        return {"prior_treatments": prior}, None
    if section == "screen":
        key = post.get("key", "")
        return {
            "screen_resolutions": {
                key: {"resolution": post.get("resolution", ""), "note": post.get("note", "")}
            }
        }, None
    if section == "contraindications":
        return {
            "contraindications": {
                item.key: {
                    "present": post.get(f"ci_{item.key}", ""),
                    "mitigation": post.get(f"mitigation_{item.key}", ""),
                }
                for item in catalogue.CONTRAINDICATIONS
            }
        }, None
    raise Http404("Unknown section.")


@login_required
@require_http_methods(["GET", "POST"])
def evaluation_detail(request: HttpRequest, evaluation_id: UUID) -> HttpResponse:
    evaluation = _evaluation(request, evaluation_id)
    user = _user(request)
    bound: dict[str, Any] = {}
    section_error: tuple[str, list[str]] | None = None
    if request.method == "POST":
        if not _can(request, Capability.EVALUATION_DRAFT, evaluation):
            raise PermissionDenied(services.MESSAGE_DRAFT_FORBIDDEN)
        section = request.POST.get("section", "")
        data, form = _post_action(request, evaluation, section)
        if data is not None:
            try:
                services.evaluation_update(user=user, evaluation=evaluation, data=data)
            except ApplicationError as exc:
                if form is not None:
                    apply_errors(form, exc)
                    bound[section] = form
                else:
                    section_error = (
                        section,
                        [f"{e.field}: {e.rule}" for e in exc.errors] or [exc.message],
                    )
            else:
                messages.success(request, MESSAGE_SAVED)
                return redirect(
                    reverse("evaluations:detail", kwargs={"evaluation_id": evaluation.id})
                    + f"#sec-{_anchor(section)}"
                )
        elif form is not None:
            bound[section] = form
        evaluation = _evaluation(request, evaluation_id)
    else:
        audit(
            user=user,
            action=Action.READ,
            patient_id=evaluation.patient_id,
            clinic_id=evaluation.clinic_id,
            object_type="evaluation",
            object_id=evaluation.id,
            detail={"page": "evaluation_detail"},
        )
    return render(
        request,
        "evaluations/detail.html",
        _detail_context(request, evaluation, bound=bound, section_error=section_error),
    )


def _anchor(section: str) -> str:
    return {
        "pain_add": "pain",
        "condition_remove": "pain",
        "condition_primary": "pain",
        "pain_history": "pain",
        "prior_add": "prior",
        "prior_remove": "prior",
        "mh_add": "mh",
        "screen": "screening",
    }.get(section, section)


def _detail_context(
    request: HttpRequest,
    evaluation: Evaluation,
    *,
    bound: dict[str, Any] | None = None,
    section_error: tuple[str, list[str]] | None = None,
    sign_form: SignForm | None = None,
    addendum_form: AddendumForm | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    measures = selectors.evaluation_measures(evaluation=evaluation)
    policy = clinic_policy_current(clinic=evaluation.clinic)
    classes = (
        (evaluation.facts or {}).get("contraindication_classes") if evaluation.is_signed else None
    ) or selectors.contraindication_classes(policy)
    conditions = list(evaluation.conditions.all())
    answers = evaluation.contraindications or {}
    facts = selectors.screen_facts(
        measures=measures,
        resolutions=evaluation.screen_resolutions or {},
        tz=evaluation.clinic.time_zone,
    )
    screens = []
    for fact in facts:
        label, code, diagnosis = SCREEN_LABELS[fact.key]
        screens.append(
            {
                "fact": fact,
                "label": label,
                "instrument": code,
                "diagnosis": diagnosis,
                "response": measures.screens.get(fact.key) if fact.key != "phq9_item9" else None,
            }
        )
    proposal = evaluation.proposal or {}
    section_forms = {
        name: bound.get(name) or form_class(evaluation=evaluation)
        for name, form_class in SECTION_FORMS.items()
    }
    can_draft = not evaluation.is_signed and _can(request, Capability.EVALUATION_DRAFT, evaluation)
    here = reverse("evaluations:detail", kwargs={"evaluation_id": evaluation.id})
    return {
        "patient": evaluation.patient,
        "evaluation": evaluation,
        "proposal": proposal,
        "proposed_label": Pathway(proposal["pathway"]).label if proposal.get("pathway") else None,
        "eligibility": ELIGIBILITY_LABELS.get(
            proposal.get("eligibility", ""), ("—", "badge-neutral")
        ),
        "pain_conditions": [c for c in conditions if c.category == ConditionEntry.Category.PAIN],
        "mh_conditions": [
            c for c in conditions if c.category == ConditionEntry.Category.MENTAL_HEALTH
        ],
        "evidence": {c.key: c.evidence for c in catalogue.PAIN_CONDITIONS},
        "evidence_note": catalogue.EVIDENCE_NOTE,
        "prior_outcomes": services.PRIOR_OUTCOMES,
        "contraindications": [
            {
                "item": item,
                "cls": classes.get(item.key, item.default_class),
                "present": (answers.get(item.key) or {}).get("present", ""),
                "mitigation": (answers.get(item.key) or {}).get("mitigation", ""),
            }
            for item in catalogue.CONTRAINDICATIONS
        ],
        "screens": screens,
        "measures": measures,
        "forms": section_forms,
        "pain_form": bound.get("pain_add") or PainConditionForm(),
        "mh_form": bound.get("mh_add") or MentalHealthForm(),
        "prior_form": bound.get("prior_add") or PriorTreatmentForm(),
        "section_error": section_error,
        "can_draft": can_draft,
        "can_sign": not evaluation.is_signed
        and _can(request, Capability.EVALUATION_SIGN, evaluation),
        "can_addendum": evaluation.is_signed
        and _can(request, Capability.EVALUATION_DRAFT, evaluation),
        "sign_form": sign_form or SignForm(),
        "addendum_form": addendum_form or AddendumForm(),
        "addenda": selectors.evaluation_addenda(evaluation=evaluation),
        "here": here,
        "time_zone": evaluation.clinic.time_zone,
    }


@login_required
@require_POST
def evaluation_sign(request: HttpRequest, evaluation_id: UUID) -> HttpResponse:
    evaluation = _evaluation(request, evaluation_id, Capability.EVALUATION_SIGN)
    form = SignForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        accept = data["decision"] == "accept"
        co_sign = None
        if data.get("co_sign_username") or data.get("co_sign_password"):
            co_sign = {
                "username": data.get("co_sign_username", ""),
                "password": data.get("co_sign_password", ""),
            }
        try:
            services.evaluation_sign(
                user=_user(request),
                evaluation=evaluation,
                accept=accept,
                pathway=None if accept else data.get("pathway"),
                override_reason=data.get("override_reason", ""),
                co_sign=co_sign,
                request=request,
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            # Blocking items are listed in the proposal panel; the rest go beside fields.
            errors = [
                FieldError(SIGN_FIELDS.get(e.field, e.field), e.rule)
                for e in exc.errors
                if e.field != "blocking"
            ]
            if errors:
                apply_errors(form, ApplicationError(exc.message, errors=errors))
            else:
                form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                MESSAGE_SIGNED.format(
                    pathway=evaluation.get_pathway_display(),
                    until=evaluation.valid_until.strftime("%-d %b %Y")
                    if evaluation.valid_until
                    else "",
                ),
            )
            return redirect("evaluations:detail", evaluation_id=evaluation.id)
        evaluation = _evaluation(request, evaluation_id)
    return render(
        request,
        "evaluations/detail.html",
        _detail_context(request, evaluation, sign_form=form),
        status=200,
    )


@login_required
@require_POST
def evaluation_addendum(request: HttpRequest, evaluation_id: UUID) -> HttpResponse:
    evaluation = _evaluation(request, evaluation_id, Capability.EVALUATION_DRAFT)
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            services.addendum_add(
                user=_user(request), evaluation=evaluation, text=form.cleaned_data["text"]
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, MESSAGE_ADDENDUM)
            return redirect(
                reverse("evaluations:detail", kwargs={"evaluation_id": evaluation.id})
                + "#sec-addenda"
            )
    return render(
        request,
        "evaluations/detail.html",
        _detail_context(request, evaluation, addendum_form=form),
    )


@login_required
@require_http_methods(["GET", "POST"])
def contraindication_classes(request: HttpRequest) -> HttpResponse:
    clinic = getattr(request, "clinic", None)
    user = _user(request)
    if clinic is None or not user.can(Capability.POLICY_WRITE, clinic.id):
        raise PermissionDenied(services.MESSAGE_CLASSES_FORBIDDEN)
    policy = clinic_policy_current(clinic=clinic)
    form = ClassesForm(request.POST or None, classes=selectors.contraindication_classes(policy))
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.contraindication_classes_set(
                user=user, clinic=clinic, classes=form.classes(), reason=form.cleaned_data["reason"]
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, MESSAGE_CLASSES_SAVED.format(version=policy.version))
            return redirect("evaluations:classes")
    return render(
        request,
        "evaluations/classes.html",
        {"form": form, "clinic": clinic, "policy": policy},
    )
