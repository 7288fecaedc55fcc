"""Evaluations API (mounted at /api/v1/): per patient the evaluations, each evaluation's
draft fields, live proposal, signature and addenda; the picklists; and the medical
director's contraindication classes.

Reads need EVALUATION_READ (director, prescriber, nurse, therapist), drafting
EVALUATION_DRAFT (director, prescriber, nurse), signing EVALUATION_SIGN (director,
prescriber). Front desk, billers and the privacy officer get 403.
"""

from typing import Any
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_get, clinic_ids_for_user, clinic_policy_current
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.evaluations import catalogue, selectors, services
from ketapath.evaluations.models import Addendum, ConditionEntry, Evaluation
from ketapath.evaluations.schemas import (
    AddendumIn,
    AddendumOut,
    ClassesIn,
    ClassesOut,
    EvaluationCreate,
    EvaluationListOut,
    EvaluationOut,
    EvaluationPatch,
    SignIn,
)
from ketapath.patients.selectors import patient_get_for_user, patient_site_for_api

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_CLINIC_NOT_FOUND = "No such clinic among your sites."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _evidence(entry: ConditionEntry) -> dict[str, Any] | None:
    if entry.category != ConditionEntry.Category.PAIN or not entry.catalogue_key:
        return None
    grade = catalogue.pain_condition(entry.catalogue_key).evidence
    return {"strength": grade.strength, "certainty": grade.certainty, "summary": grade.summary}


def _proposal(evaluation: Evaluation) -> dict[str, Any]:
    proposal = evaluation.proposal or {}
    return {
        "pathway": proposal.get("pathway"),
        "eligibility": proposal.get("eligibility", ""),
        "reasons": proposal.get("reasons", []),
        "blocking": proposal.get("blocking", []),
        "prompts": proposal.get("prompts", []),
        "precautions": proposal.get("precautions", []),
        "absolute": proposal.get("absolute", []),
        "series_blocked": bool(proposal.get("series_blocked", False)),
    }


def _addendum_out(addendum: Addendum, tz: str) -> dict[str, Any]:
    return {
        "id": addendum.id,
        "author": addendum.author_id,
        "author_name": addendum.author.display_name,
        "text": addendum.text,
        "created_at": rfc3339(addendum.created_at, tz),
    }


def _list_item(evaluation: Evaluation) -> dict[str, Any]:
    tz = evaluation.clinic.time_zone
    return {
        "id": evaluation.id,
        "clinic": evaluation.clinic_id,
        "status": evaluation.status,
        "created_at": rfc3339(evaluation.created_at, tz),
        "author_name": evaluation.author.display_name,
        "proposal": _proposal(evaluation),
        "pathway": evaluation.pathway or None,
        "signed_by_name": evaluation.signed_by.display_name if evaluation.signed_by else None,
        "signed_at": rfc3339(evaluation.signed_at, tz),
        "valid_until": evaluation.valid_until,
    }


def _evaluation_out(evaluation: Evaluation) -> dict[str, Any]:
    tz = evaluation.clinic.time_zone
    out = _list_item(evaluation)
    out.update(
        {
            "patient": evaluation.patient_id,
            "author": evaluation.author_id,
            "updated_at": rfc3339(evaluation.updated_at, tz),
            "signed_by": evaluation.signed_by_id,
            "accepted_proposal": evaluation.accepted_proposal,
            "override_reason": evaluation.override_reason,
            "co_signed_by": evaluation.co_signed_by_id,
            "fields": {
                **{name: getattr(evaluation, name) for name in services.PLAIN_FIELDS},
                "prior_treatments": evaluation.prior_treatments,
                "contraindications": evaluation.contraindications,
                "screen_resolutions": evaluation.screen_resolutions,
            },
            "conditions": [
                {
                    "id": c.id,
                    "category": c.category,
                    "system": c.system,
                    "code": c.code,
                    "display": c.display,
                    "catalogue_key": c.catalogue_key,
                    "is_primary": c.is_primary,
                    "onset": c.onset,
                    "note": c.note,
                    "evidence": _evidence(c),
                }
                for c in evaluation.conditions.all()
            ],
            "addenda": [
                _addendum_out(a, tz) for a in selectors.evaluation_addenda(evaluation=evaluation)
            ],
            "measures": (evaluation.facts or {}).get("measures") if evaluation.is_signed else None,
        }
    )
    return out


def _audit_read(request: HttpRequest, evaluation: Evaluation) -> None:
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=evaluation.patient_id,
        clinic_id=evaluation.clinic_id,
        object_type="evaluation",
        object_id=evaluation.id,
        detail={"via": "api"},
    )


@router.get(
    "/patients/{patient_id}/evaluations",
    response={200: EvaluationListOut, **ERRORS},
    summary="The patient's evaluations, newest first",
)
def evaluation_list(
    request: HttpRequest, patient_id: UUID, filters: Query[PageParams]
) -> dict[str, Any]:
    patient = patient_get_for_user(
        user=_user(request), patient_id=patient_id, capability=Capability.EVALUATION_READ
    )
    page = paginate(
        selectors.evaluations_for_patient(patient=patient), filters.page, filters.page_size
    )
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="evaluation",
        detail={"via": "api", "list": True},
    )
    return {"items": [_list_item(e) for e in page.items], "count": page.count}


@router.post(
    "/patients/{patient_id}/evaluations",
    response={201: EvaluationOut, **ERRORS},
    summary="Start a draft evaluation (one draft per patient), optionally with its first answers",
)
def evaluation_create(
    request: HttpRequest, patient_id: UUID, payload: EvaluationCreate
) -> Status[dict[str, Any]]:
    patient = patient_get_for_user(
        user=_user(request), patient_id=patient_id, capability=Capability.EVALUATION_DRAFT
    )
    clinic = patient_site_for_api(patient=patient, requested=payload.clinic)
    data = payload.dict(exclude_unset=True)
    data.pop("clinic", None)
    with transaction.atomic():
        evaluation = services.evaluation_start(user=_user(request), patient=patient, clinic=clinic)
        if data:
            services.evaluation_update(user=_user(request), evaluation=evaluation, data=data)
    evaluation = selectors.evaluation_get_for_user(user=_user(request), evaluation_id=evaluation.id)
    return Status(201, _evaluation_out(evaluation))


class CatalogueOut(Schema):
    pain_conditions: list[dict[str, Any]]
    mental_health_codes: list[dict[str, Any]]
    contraindications: list[dict[str, Any]]
    prior_outcomes: dict[str, str]
    evidence_note: str


@router.get(
    "/evaluations/catalogue",
    response={200: CatalogueOut, 401: ErrorOut},
    summary="Picklists: pain conditions with ICD-10-CM codes and evidence, mental-health "
    "codes, contraindications with their shipped classes",
)
def evaluation_catalogue(request: HttpRequest) -> dict[str, Any]:
    return {
        "pain_conditions": [
            {
                "key": c.key,
                "label": c.label,
                "default_code": c.default_code,
                "codes": [{"code": o.code, "display": o.display} for o in c.codes],
                "companion_codes": list(c.companion_codes),
                "evidence": {
                    "strength": c.evidence.strength,
                    "certainty": c.evidence.certainty,
                    "summary": c.evidence.summary,
                },
                "note": c.note,
            }
            for c in catalogue.PAIN_CONDITIONS
        ],
        "mental_health_codes": [
            {"code": o.code, "display": o.display} for o in catalogue.MENTAL_HEALTH_CODES
        ],
        "contraindications": [
            {
                "key": c.key,
                "label": c.label,
                "default_class": c.default_class,
                "question": c.question,
                "source": c.source,
            }
            for c in catalogue.CONTRAINDICATIONS
        ],
        "prior_outcomes": services.PRIOR_OUTCOMES,
        "evidence_note": catalogue.EVIDENCE_NOTE,
    }


@router.get("/evaluations/{evaluation_id}", response={200: EvaluationOut, **ERRORS})
def evaluation_detail(request: HttpRequest, evaluation_id: UUID) -> dict[str, Any]:
    evaluation = selectors.evaluation_get_for_user(user=_user(request), evaluation_id=evaluation_id)
    _audit_read(request, evaluation)
    return _evaluation_out(evaluation)


@router.patch(
    "/evaluations/{evaluation_id}",
    response={200: EvaluationOut, **ERRORS},
    summary="Save draft answers; answers the live proposal. A signed evaluation → 409",
)
def evaluation_patch(
    request: HttpRequest, evaluation_id: UUID, payload: EvaluationPatch
) -> dict[str, Any]:
    evaluation = selectors.evaluation_get_for_user(
        user=_user(request), evaluation_id=evaluation_id, capability=Capability.EVALUATION_DRAFT
    )
    services.evaluation_update(
        user=_user(request), evaluation=evaluation, data=payload.dict(exclude_unset=True)
    )
    evaluation = selectors.evaluation_get_for_user(user=_user(request), evaluation_id=evaluation.id)
    return _evaluation_out(evaluation)


@router.post(
    "/evaluations/{evaluation_id}/sign",
    response={200: EvaluationOut, 429: ErrorOut, **ERRORS},
    summary="Sign: accept the proposal, or choose another pathway with a reason",
)
def evaluation_sign(request: HttpRequest, evaluation_id: UUID, payload: SignIn) -> dict[str, Any]:
    evaluation = selectors.evaluation_get_for_user(
        user=_user(request), evaluation_id=evaluation_id, capability=Capability.EVALUATION_SIGN
    )
    services.evaluation_sign(
        user=_user(request),
        evaluation=evaluation,
        accept=payload.accept,
        pathway=payload.pathway,
        override_reason=payload.override_reason or "",
        co_sign=payload.co_sign.dict() if payload.co_sign else None,
        request=request,
    )
    evaluation = selectors.evaluation_get_for_user(user=_user(request), evaluation_id=evaluation.id)
    return _evaluation_out(evaluation)


@router.post(
    "/evaluations/{evaluation_id}/addenda",
    response={201: AddendumOut, **ERRORS},
    summary="Add an addendum to a signed evaluation",
)
def evaluation_addendum(
    request: HttpRequest, evaluation_id: UUID, payload: AddendumIn
) -> Status[dict[str, Any]]:
    evaluation = selectors.evaluation_get_for_user(
        user=_user(request), evaluation_id=evaluation_id, capability=Capability.EVALUATION_DRAFT
    )
    addendum = services.addendum_add(user=_user(request), evaluation=evaluation, text=payload.text)
    return Status(201, _addendum_out(addendum, evaluation.clinic.time_zone))


class IcdSearch(Schema):
    q: str


class IcdOut(Schema):
    items: list[dict[str, str]]


@router.get(
    "/icd10cm",
    response={200: IcdOut, 401: ErrorOut},
    summary="Search billable ICD-10-CM codes by code prefix or words of the description",
)
def icd10cm_search(request: HttpRequest, params: Query[IcdSearch]) -> dict[str, Any]:
    return {
        "items": [
            {"code": o.code, "display": o.display} for o in catalogue.icd10_search(params.q[:80])
        ]
    }


def _clinic(request: HttpRequest, clinic_id: UUID) -> Clinic:
    """A site the user works at (the clinics app's rule), else 404."""
    clinic = (
        clinic_get(clinic_id=clinic_id)
        if clinic_id in clinic_ids_for_user(user_id=request.user.pk)
        else None
    )
    if clinic is None:
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    return clinic


@router.get(
    "/clinics/{clinic_id}/contraindication-classes",
    response={200: ClassesOut, 401: ErrorOut, 404: ErrorOut},
)
def classes_detail(request: HttpRequest, clinic_id: UUID) -> dict[str, Any]:
    clinic = _clinic(request, clinic_id)
    policy = clinic_policy_current(clinic=clinic)
    return {
        "clinic": clinic.id,
        "policy_version": policy.version,
        "classes": selectors.contraindication_classes(policy),
    }


@router.put(
    "/clinics/{clinic_id}/contraindication-classes",
    response={200: ClassesOut, **ERRORS},
    summary="The medical director reclassifies contraindications (a new policy version)",
)
def classes_update(request: HttpRequest, clinic_id: UUID, payload: ClassesIn) -> dict[str, Any]:
    clinic = _clinic(request, clinic_id)
    try:
        policy = services.contraindication_classes_set(
            user=_user(request), clinic=clinic, classes=payload.classes, reason=payload.reason
        )
    except InvalidInput as exc:
        # Name the fields as the request does ("classes.<key>").
        exc.errors = [
            FieldError(e.field.replace("contraindication_classes", "classes", 1), e.rule)
            for e in exc.errors
        ]
        raise
    return {
        "clinic": clinic.id,
        "policy_version": policy.version,
        "classes": selectors.contraindication_classes(policy),
    }
