"""Protocol templates: shipped set, versions, approval, the site dose ceiling."""

from decimal import Decimal

import pytest

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.clinics.services import clinic_policy_update
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.protocols import services
from ketapath.protocols.models import ProtocolTemplate

pytestmark = pytest.mark.django_db

DOSE = {"mg_per_kg_min": Decimal("0.5"), "mg_per_kg_max": Decimal("0.8"), "cap_mg": Decimal("80")}


def shipped(site: Clinic, name: str) -> ProtocolTemplate:
    services.protocols_ship(clinic=site)
    return ProtocolTemplate.objects.get(clinic=site, name=name)


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_shipped_templates_have_the_issue_shapes_and_no_dose(site: Clinic) -> None:
    created = services.protocols_ship(clinic=site)
    shapes = {
        t.name: (t.indication, t.sessions, t.min_interval_hours, t.window_days) for t in created
    }
    assert shapes == {
        "Chronic pain — initial IM series": ("chronic_pain", 3, 24, 7),
        "Depression — induction": ("depression", 6, 48, 21),
        "PTSD — induction": ("ptsd", 6, 48, 21),
        "Continuation — single session": ("continuation", 1, 0, 1),
    }
    assert all(not t.has_dose and t.status == "draft" and t.route == "im" for t in created)
    # Shipping twice changes nothing.
    assert services.protocols_ship(clinic=site) == []


def test_an_undosed_template_cannot_be_approved(director: User, site: Clinic) -> None:
    template = shipped(site, "Chronic pain — initial IM series")
    with pytest.raises(InvalidInput) as exc:
        services.protocol_approve(user=director, template=template)
    assert fields(exc) == {"mg_per_kg_min", "mg_per_kg_max", "cap_mg"}
    template.refresh_from_db()
    assert template.status == "draft"


def test_director_sets_a_dose_and_approves(director: User, site: Clinic) -> None:
    template = shipped(site, "Chronic pain — initial IM series")
    template = services.protocol_update(user=director, template=template, data=DOSE)
    assert template.version == 1  # a draft is edited in place
    services.protocol_approve(user=director, template=template)
    template.refresh_from_db()
    assert (template.status, template.approved_by) == ("approved", director)
    assert (
        AuditEvent.objects.filter(
            object_type="protocol_template", object_id=str(template.id), action="update"
        ).count()
        == 2
    )
    with pytest.raises(Conflict):
        services.protocol_approve(user=director, template=template)


def test_editing_an_approved_template_makes_a_new_version(director: User, site: Clinic) -> None:
    v1 = shipped(site, "Depression — induction")
    v1 = services.protocol_update(user=director, template=v1, data=DOSE)
    services.protocol_approve(user=director, template=v1)
    v2 = services.protocol_update(
        user=director, template=v1, data={"mg_per_kg_max": Decimal("0.9")}
    )
    assert (v2.version, v2.status, v2.lineage) == (2, "draft", v1.lineage)
    v1.refresh_from_db()
    assert (v1.status, v1.mg_per_kg_max) == ("approved", Decimal("0.800"))
    # Only the latest version changes.
    with pytest.raises(Conflict):
        services.protocol_update(user=director, template=v1, data={"notes": "x"})
    services.protocol_approve(user=director, template=v2)
    v1.refresh_from_db()
    assert v1.status == "superseded"


def test_the_site_ceiling_bounds_every_template(director: User, site: Clinic) -> None:
    template = shipped(site, "PTSD — induction")
    with pytest.raises(InvalidInput) as exc:
        services.protocol_update(
            user=director, template=template, data={**DOSE, "mg_per_kg_max": Decimal("4.5")}
        )
    assert "mg_per_kg_max" in fields(exc)
    assert "1.00 mg/kg" in exc.value.errors[0].rule
    clinic_policy_update(
        user=director,
        clinic=site,
        changes={"dose_ceiling_mg_per_kg": Decimal("0.6")},
        reason="Board",
    )
    with pytest.raises(InvalidInput) as exc:
        services.protocol_update(user=director, template=template, data=DOSE)
    assert fields(exc) == {"mg_per_kg_max"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"mg_per_kg_min": Decimal("0.9"), "mg_per_kg_max": Decimal("0.5")}, "mg_per_kg_min"),
        ({"vitals_offsets": [10, 0]}, "vitals_offsets"),
        ({"vitals_offsets": [0, 500]}, "vitals_offsets"),
        ({"pre_questionnaires": ["bdi"]}, "pre_questionnaires"),
        ({"sessions": 6, "min_interval_hours": 48, "window_days": 7}, "window_days"),
        ({"observation_minutes": 10}, "observation_minutes"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_changes_name_the_field_and_save_nothing(
    director: User, site: Clinic, data: dict[str, object], field: str
) -> None:
    template = shipped(site, "Depression — induction")
    with pytest.raises(InvalidInput) as exc:
        services.protocol_update(user=director, template=template, data=data)
    assert field in fields(exc)
    template.refresh_from_db()
    assert (template.sessions, template.window_days, template.mg_per_kg_min) == (6, 21, None)


@pytest.mark.parametrize("persona", ["prescriber", "nurse", "clinic_admin", "front_desk"])
def test_only_the_director_writes_templates(
    request: pytest.FixtureRequest, site: Clinic, persona: str
) -> None:
    user = request.getfixturevalue(persona)
    template = shipped(site, "Depression — induction")
    with pytest.raises(Forbidden):
        services.protocol_update(user=user, template=template, data=DOSE)
    with pytest.raises(Forbidden):
        services.protocol_approve(user=user, template=template)
    with pytest.raises(Forbidden):
        services.protocol_create(user=user, clinic=site, data={"name": "x"})
