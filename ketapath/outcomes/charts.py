"""The dashboard's chart, drawn server-side (DESIGN §5b): for each group, the share of
series started with a pain fall of ≥ 30 % and ≥ 50 % (intention to treat) as bars with
their Wilson 95 % intervals as whiskers, and the share among the reassessed as a hollow
diamond. The table beside it holds the same figures."""

import io
from typing import Any, cast

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from ketapath.outcomes.dashboard import GroupSummary, Summary
from ketapath.outcomes.timeline import RC, inline_svg

BAR_30 = "#2F6F8F"
BAR_50 = "#8A5A00"
WHISKER = "#1F2A30"
ROW_HEIGHT_IN = 0.62
TITLE = "Pain response by group"


def _label(group: GroupSummary) -> str:
    text = group.label if len(group.label) <= 38 else group.label[:37] + "…"
    return f"{text} (n={group.started})"


def describe(summary: Summary) -> str:
    parts = []
    for g in summary.groups:
        if not g.started:
            continue
        parts.append(
            f"{g.label}: {g.responders_30} of {g.started} started "
            f"({(g.rate_30 or 0) * 100:.0f} %) with a fall of 30 % or more, "
            f"{g.responders_50} ({(g.rate_50 or 0) * 100:.0f} %) of 50 % or more."
        )
    return " ".join(parts) or "No series started in this period."


def rates_svg(summary: Summary) -> str:
    """The chart as SVG ready to inline, or "" when no series started in the period."""
    groups = [g for g in summary.groups if g.started]
    if not groups:
        return ""
    with matplotlib.rc_context(cast(Any, {**RC, "svg.hashsalt": "outcomes"})):
        fig = Figure(figsize=(8.6, 0.9 + ROW_HEIGHT_IN * len(groups)))
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        rows = list(reversed(groups))
        ys = range(len(rows))
        height = 0.36
        for offset, attr, colour, hatch, name in (
            (height / 2, "30", BAR_30, "", "≥ 30 % fall (of those started)"),
            (-height / 2, "50", BAR_50, "//", "≥ 50 % fall (of those started)"),
        ):
            values = [(getattr(g, f"rate_{attr}") or 0) * 100 for g in rows]
            low = []
            high = []
            for g, v in zip(rows, values, strict=True):
                ci = getattr(g, f"ci_{attr}")
                low.append(v - ci[0] * 100 if ci else 0)
                high.append(ci[1] * 100 - v if ci else 0)
            positions = [y + offset for y in ys]
            ax.barh(
                positions,
                values,
                height=height,
                color=colour,
                hatch=hatch,
                edgecolor="white",
                label=name,
                xerr=[low, high],
                error_kw={"ecolor": WHISKER, "capsize": 3, "elinewidth": 1},
            )
            among = [(getattr(g, f"rate_{attr}_reassessed") or 0) * 100 for g in rows]
            ax.scatter(
                among,
                positions,
                marker="D",
                facecolors="white",
                edgecolors=WHISKER,
                zorder=3,
                s=22,
                label="Among the reassessed" if attr == "30" else None,
            )
        ax.set_yticks(list(ys), [_label(g) for g in rows])
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of patients (whiskers: Wilson 95 % interval)")
        ax.grid(axis="x", color="#D5DCE0", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return inline_svg(
        buffer.getvalue(), prefix="outcomes", title=TITLE, description=describe(summary)
    )
