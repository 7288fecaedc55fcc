"""``{% patient_banner patient %}``: the banner on every patient page, from any app's template."""

from typing import Any

from django import template

from ketapath.chart.selectors import patient_banner as compose_banner
from ketapath.patients.models import Patient

register = template.Library()


@register.inclusion_tag("chart/banner.html")
def patient_banner(patient: Patient) -> dict[str, Any]:
    return {"banner": compose_banner(patient=patient)}
