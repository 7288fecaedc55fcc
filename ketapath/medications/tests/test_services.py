"""Medication list writes: validation, MME snapshot on every change, flags from policy,
PDMP checks, audit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.medications import selectors, services
from ketapath.medications.catalogue import FACTOR_SET
from ketapath.medications.models import Medication, MmeSnapshot, PdmpCheck
from ketapath.medications.rules import FLAG_CAUTION, FLAG_HIGH, RULE_REQUIRED, UNIT_TEXT
from ketapath.medications.tests.factories import add, days_ago, oxycodone
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db


def rules_of(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.rule for e in exc.value.errors}


def test_add_writes_snapshot_with_items_and_factor_set(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(prescriber, patient, site)
    snap = MmeSnapshot.objects.get(patient=patient)
    assert snap.trigger == MmeSnapshot.Trigger.MEDICATION_ADDED
    assert snap.total_mme == Decimal("30.0")
    assert snap.factor_set == FACTOR_SET
    assert snap.items == [
        {
            "medication": str(med.id),
            "drug": "oxycodone",
            "mme": "30.0",
            "factor": "1.5",
            "factor_source": "cdc_2022",
        }
    ]
    assert snap.flags == [] and snap.by == prescriber and snap.medication == med
    assert med.ingredient == "oxycodone" and med.rxnorm_ingredient == "7804"


def test_every_change_writes_a_snapshot(nurse: User, patient: Patient, site: Clinic) -> None:
    med = oxycodone(nurse, patient, site)
    add(
        nurse,
        patient,
        site,
        "Fentanyl 25 mcg/hr patch",
        opioid_key="fentanyl-transdermal",
        dose_mcg_per_hr=25,
        route="transdermal",
    )
    services.medication_update(
        user=nurse, medication=med, clinic=site, data={"doses_per_day": Decimal(3)}
    )
    services.medication_stop(
        user=nurse,
        medication=med,
        clinic=site,
        stop_date=local_today(site.time_zone),
        reason="tapered",
    )
    snaps = list(MmeSnapshot.objects.filter(patient=patient).order_by("computed_at", "created_at"))
    assert [(s.trigger, s.total_mme) for s in snaps] == [
        ("medication_added", Decimal("30.0")),
        ("medication_added", Decimal("90.0")),
        ("medication_edited", Decimal("105.0")),
        ("medication_stopped", Decimal("60.0")),
    ]


def test_prn_counts_at_maximum_daily_dose(prescriber: User, patient: Patient, site: Clinic) -> None:
    # Hydrocodone 5 mg up to four times a day as needed = 20 MME/day (clinical.md §3.1).
    add(
        prescriber,
        patient,
        site,
        "Hydrocodone/APAP 5/325",
        opioid_key="hydrocodone",
        dose_mg=5,
        doses_per_day=4,
        prn=True,
    )
    summary = selectors.current_medications_summary(patient)
    assert summary.total_mme == Decimal("20.0")
    assert summary.rows[0].medication.prn is True


def test_buprenorphine_is_excluded_with_reason(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    med = add(
        prescriber,
        patient,
        site,
        "Buprenorphine SL",
        opioid_key="buprenorphine",
        dose_mg=8,
        doses_per_day=1,
    )
    snap = MmeSnapshot.objects.get(patient=patient)
    assert snap.total_mme == 0 and snap.items == []
    assert snap.excluded[0]["medication"] == str(med.id)
    assert snap.excluded[0]["drug"] == "buprenorphine"


def test_flags_follow_default_policy_at_50_and_90(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    oxycodone(prescriber, patient, site, mg=10, per_day=3)  # 45
    assert MmeSnapshot.objects.first().flags == []  # type: ignore[union-attr]
    add(prescriber, patient, site, "Morphine IR", opioid_key="morphine", dose_mg=5, doses_per_day=1)
    snap = MmeSnapshot.objects.order_by("-computed_at", "-created_at").first()
    assert snap is not None and snap.total_mme == Decimal("50.0")
    assert snap.flags == [FLAG_CAUTION] and (snap.caution_at, snap.high_at) == (50, 90)
    add(
        prescriber, patient, site, "Morphine ER", opioid_key="morphine", dose_mg=20, doses_per_day=2
    )
    summary = selectors.current_medications_summary(patient)
    assert summary.total_mme == Decimal("90.0")
    assert summary.flags == (FLAG_CAUTION, FLAG_HIGH) and summary.naloxone_prompt


def test_flags_follow_the_current_policy_version(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    ClinicPolicy.objects.create(clinic=site, version=2, mme_caution_at=20, mme_high_at=40)
    oxycodone(prescriber, patient, site)  # 30
    snap = MmeSnapshot.objects.get(patient=patient)
    assert snap.flags == [FLAG_CAUTION]
    assert (snap.caution_at, snap.high_at, snap.policy_version) == (20, 40, 2)
    summary = selectors.current_medications_summary(patient)
    assert summary.flags == (FLAG_CAUTION,) and summary.naloxone_prompt


def test_non_opioids_add_no_mme_and_raise_interaction_flags(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    oxycodone(nurse, patient, site)
    benzo = add(
        nurse,
        patient,
        site,
        "Ativan 1 mg",
        ingredient="Lorazepam",
        dose_mg=1,
        doses_per_day=2,
        strength="1 mg",
    )
    assert benzo.ingredient == "lorazepam" and benzo.opioid_key is None
    summary = selectors.current_medications_summary(patient)
    assert summary.total_mme == Decimal("30.0")
    assert [f.kind for f in summary.interaction_flags] == [
        "benzodiazepine",
        "opioid_benzodiazepine",
    ]


def test_stop_before_start_is_refused(prescriber: User, patient: Patient, site: Clinic) -> None:
    med = oxycodone(prescriber, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.medication_stop(
            user=prescriber,
            medication=med,
            clinic=site,
            stop_date=med.start_date - timedelta(days=1),
        )
    assert rules_of(exc) == {"stop_date": services.MESSAGE_STOP_BEFORE_START}
    assert MmeSnapshot.objects.filter(patient=patient).count() == 1


def test_stop_constraint_holds_in_the_database(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(prescriber, patient, site)
    with pytest.raises(IntegrityError), transaction.atomic():
        Medication.objects.filter(id=med.id).update(stop_date=med.start_date - timedelta(days=2))


def test_opioid_needs_exactly_one_dose_unit_in_the_database(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(prescriber, patient, site)
    with pytest.raises(IntegrityError), transaction.atomic():
        Medication.objects.filter(id=med.id).update(dose_mcg_per_hr=Decimal(25))


def test_stopping_twice_conflicts(prescriber: User, patient: Patient, site: Clinic) -> None:
    med = oxycodone(prescriber, patient, site)
    services.medication_stop(
        user=prescriber, medication=med, clinic=site, stop_date=local_today(site.time_zone)
    )
    with pytest.raises(Conflict):
        services.medication_stop(
            user=prescriber, medication=med, clinic=site, stop_date=local_today(site.time_zone)
        )


def test_opioid_dose_is_checked_against_its_unit(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        add(prescriber, patient, site, "Oxycodone", opioid_key="oxycodone", dose_mg=10)
    rule = RULE_REQUIRED.format(drug="oxycodone", unit=UNIT_TEXT["mg"])
    assert rules_of(exc) == {"doses_per_day": rule}
    assert not Medication.objects.exists() and not MmeSnapshot.objects.exists()


def test_an_opioid_ingredient_must_be_chosen_as_opioid(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        add(
            prescriber,
            patient,
            site,
            "Percocet",
            ingredient="oxycodone",
            dose_mg=5,
            doses_per_day=4,
        )
    assert rules_of(exc) == {"opioid_key": services.MESSAGE_OPIOID_NOT_CHOSEN}


def test_future_start_and_bad_rxnorm_refused(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        add(
            prescriber,
            patient,
            site,
            "Lamictal",
            ingredient="lamotrigine",
            rxnorm_ingredient="abc",
            start_date=local_today(site.time_zone) + timedelta(days=5),
        )
    assert rules_of(exc) == {
        "rxnorm_ingredient": services.MESSAGE_RXNORM_FORMAT,
        "start_date": services.MESSAGE_START_FUTURE,
    }


def test_roles_without_clinical_write_are_refused(
    front_desk: User, biller: User, therapist: User, patient: Patient, site: Clinic
) -> None:
    for user in (front_desk, biller, therapist):
        with pytest.raises(Forbidden):
            oxycodone(user, patient, site)
        with pytest.raises(Forbidden):
            services.pdmp_check_record(
                user=user, patient=patient, clinic=site, state="CO", result="no_concerns"
            )


def test_writes_are_audited(nurse: User, patient: Patient, site: Clinic) -> None:
    med = oxycodone(nurse, patient, site)
    services.medication_stop(user=nurse, medication=med, clinic=site, stop_date=days_ago(site, 0))
    check = services.pdmp_check_record(
        user=nurse, patient=patient, clinic=site, state="co", result="no_concerns", note=" ok "
    )
    events = AuditEvent.objects.filter(patient_id=patient.id, user_id=nurse.id)
    assert events.filter(action="create", object_type="medication", object_id=str(med.id)).exists()
    assert events.filter(action="update", object_type="medication", object_id=str(med.id)).exists()
    assert events.filter(
        action="create", object_type="pdmp_check", object_id=str(check.id)
    ).exists()
    assert (check.state, check.note) == ("CO", "ok")


def test_pdmp_validation(nurse: User, patient: Patient, site: Clinic) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.pdmp_check_record(
            user=nurse,
            patient=patient,
            clinic=site,
            state="Colorado",
            result="fine",
            checked_at=timezone.now() + timedelta(hours=1),
        )
    fields = rules_of(exc)
    assert fields["state"] == services.MESSAGE_STATE_FORMAT
    assert fields["checked_at"] == services.MESSAGE_CHECKED_FUTURE
    assert "result" in fields
    assert not PdmpCheck.objects.exists()


def test_pdmp_checks_newest_first(nurse: User, patient: Patient, site: Clinic) -> None:
    old = services.pdmp_check_record(
        user=nurse,
        patient=patient,
        clinic=site,
        state="CO",
        result="no_concerns",
        checked_at=timezone.now() - timedelta(days=3),
    )
    new = services.pdmp_check_record(
        user=nurse, patient=patient, clinic=site, state="IL", result="concerns_noted"
    )
    assert list(selectors.pdmp_checks_for_patient(patient=patient)) == [new, old]
