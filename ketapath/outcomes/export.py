"""The outcomes summary as CSV: one row per group and the total, after the period, the
sites and the observational-data note."""

import csv
import io

from django.http import HttpResponse

from ketapath.outcomes.dashboard import GroupSummary, Summary

# A cell starting with one of these would run as a formula in a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    ("group", "label"),
    ("started", "started"),
    ("series_completed", "series_completed"),
    ("reassessed", "reassessed"),
    ("responders_30", "responders_30"),
    ("rate_30", "rate_30"),
    ("ci_30_low", None),
    ("ci_30_high", None),
    ("rate_30_among_reassessed", "rate_30_reassessed"),
    ("responders_50", "responders_50"),
    ("rate_50", "rate_50"),
    ("ci_50_low", None),
    ("ci_50_high", None),
    ("rate_50_among_reassessed", "rate_50_reassessed"),
    ("baseline_below_4", "low_baseline"),
    ("median_pain_change_percent", "median_pain_change_percent"),
    ("phq9_baseline_10_or_more", "phq9_eligible"),
    ("phq9_response_rate", "phq9_response_rate"),
    ("phq9_remission_rate", "phq9_remission_rate"),
    ("opioid_users", "opioid_users"),
    ("mean_mme_change", "mean_mme_change"),
    ("opioid_reduced_or_stopped_rate", "opioid_reduced_rate"),
    ("dropouts", "dropouts"),
    ("dropout_rate", "dropout_rate"),
    ("adverse_event_rate", "adverse_event_rate"),
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _row(group: GroupSummary) -> list[str]:
    ci_30 = group.ci_30 or (None, None)
    ci_50 = group.ci_50 or (None, None)
    extra = {
        "ci_30_low": ci_30[0],
        "ci_30_high": ci_30[1],
        "ci_50_low": ci_50[0],
        "ci_50_high": ci_50[1],
    }
    return [
        _cell(extra[name] if attribute is None else getattr(group, attribute))
        for name, attribute in COLUMNS
    ]


def summary_csv(summary: Summary) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["# " + summary.note])
    writer.writerow(
        [
            "# period",
            summary.date_from.isoformat(),
            summary.date_to.isoformat(),
            "sites",
            "; ".join(_cell(c.name) for c in summary.clinics),
            "grouped by",
            summary.group_by,
        ]
    )
    writer.writerow([name for name, _ in COLUMNS])
    for group in [*summary.groups, summary.total]:
        writer.writerow(_row(group))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"outcomes-{summary.group_by}-{summary.date_from}-{summary.date_to}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
