"""Every existing site gets the shipped protocol templates, as drafts without a dose (a
frozen copy of protocols.services.SHIPPED at the time of this migration)."""

import uuid

from django.db import migrations

NOTE = (
    "Shipped without a dose: no guideline sets IM dosing for this indication "
    "(clinical.md §1.3). The medical director sets the dose range and cap, then approves."
)
SHIPPED = [
    ("Chronic pain — initial IM series", "chronic_pain", 3, 24, 7, ["pain-nrs", "peg"]),
    ("Depression — induction", "depression", 6, 48, 21, ["phq-9"]),
    ("PTSD — induction", "ptsd", 6, 48, 21, ["pcl-5"]),
    ("Continuation — single session", "continuation", 1, 0, 1, ["pain-nrs", "peg"]),
]


def ship(apps, schema_editor):
    Clinic = apps.get_model("clinics", "Clinic")
    ProtocolTemplate = apps.get_model("protocols", "ProtocolTemplate")
    for clinic in Clinic.objects.all():
        if ProtocolTemplate.objects.filter(clinic=clinic).exists():
            continue
        for name, indication, sessions, interval, window, pre in SHIPPED:
            ProtocolTemplate.objects.create(
                id=uuid.uuid4(),
                clinic=clinic,
                lineage=uuid.uuid4(),
                version=1,
                status="draft",
                name=name,
                indication=indication,
                route="im",
                sessions=sessions,
                min_interval_hours=interval,
                window_days=window,
                dose_minutes=15,
                observation_minutes=60,
                vitals_offsets=[0, 10, 20, 30, 40, 50, 60],
                pre_questionnaires=pre,
                post_questionnaires=[],
                reassessment_days=7,
                notes=NOTE,
            )


class Migration(migrations.Migration):
    dependencies = [("protocols", "0001_initial")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
