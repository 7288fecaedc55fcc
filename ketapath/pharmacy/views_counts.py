"""Pages of counts, investigations, losses and returns at the current site.

Seeing them needs the ledger at the site: LEDGER_HANDLE (licensed nurse or prescriber) or
LEDGER_RECONCILE (medical director); counting, reporting a loss and returning stock need
LEDGER_HANDLE; closing an investigation and recording the loss steps LEDGER_RECONCILE.
Other roles get 403; a count, investigation or loss report of another site is 404. Times
are the site's, with its zone named.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit, co_signer_verify
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, FieldError, Forbidden
from ketapath.core.forms import apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger, losses, stocktake
from ketapath.pharmacy.forms_counts import (
    CloseForm,
    CountForm,
    LossForm,
    ReturnForm,
    StepForm,
    ml_field_name,
)
from ketapath.pharmacy.models import (
    Count,
    CountLine,
    Investigation,
    LedgerEntry,
    LossReport,
    Vial,
)

CO_SIGNER_ROLES = frozenset({"nurse", "prescriber", "medical_director"})
CO_SIGN_WHO = "a licensed nurse or prescriber"
MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_NO_PHARMACY = (
    "Your role at this site does not include the controlled-substance ledger (licensed "
    "nurses, prescribers and the medical director)."
)
MESSAGE_COUNT_SAVED = "Count saved: {n} vial{s} counted. {differences}"
MESSAGE_COUNT_MATCHES = "Every vial matches the ledger."
MESSAGE_COUNT_DIFFERS = (
    "{n} vial{s} differ{verb} from the ledger; an investigation is open for each and the "
    "medical director has been asked to close it."
)
MESSAGE_CLOSED = "Investigation closed."
MESSAGE_LOSS_SAVED = (
    "Loss recorded and taken out of the ledger. Written notice to the DEA is due {notice}; "
    "DEA Form 106 by {form}."
)
MESSAGE_NOTICE_SAVED = "Written notice to the DEA recorded."
MESSAGE_FORM_106_SAVED = "DEA Form 106 recorded."
MESSAGE_RETURNED = (
    "Vial {label}: {ml} mL ({mg} mg) returned to {party}, reference {reference}. The vial is "
    "now marked returned."
)
MESSAGE_NOTHING_ON_HAND = "No vial at this site has anything in it, so there is nothing to count."

KIND_CHOICES = [
    (Count.Kind.SHIFT, "Shift or daily count", "The vials in use, and any others you count."),
    (
        Count.Kind.INITIAL,
        "Initial inventory",
        "Every vial on hand, expired and quarantined ones too (21 CFR 1304.11(b)).",
    ),
    (
        Count.Kind.BIENNIAL,
        "Biennial inventory",
        "Every vial on hand, at least every two years (21 CFR 1304.11(c)).",
    ),
]
# Status by word and shape as well as colour (DESIGN §11).
INVESTIGATION_BADGES = {
    Investigation.Status.OPEN: ("badge-warn", "Open"),
    Investigation.Status.CLOSED: ("badge-ok", "Closed"),
}
VIAL_BADGES = {
    Vial.Status.IN_STOCK: "badge-neutral",
    Vial.Status.OPEN: "badge-info",
    Vial.Status.QUARANTINED: "badge-warn",
    Vial.Status.EMPTY: "badge-neutral",
    Vial.Status.RETURNED: "badge-neutral",
    Vial.Status.LOST: "badge-danger",
}
STEP_BADGES = {
    "done": ("badge-ok", "Done"),
    "due": ("badge-info", "Due"),
    "due_today": ("badge-warn", "Due today"),
    "overdue": ("badge-danger", "Overdue"),
}
INVESTIGATION_TABS = (("", "All, open first"), ("open", "Open"), ("closed", "Closed"))
HISTORY_ROWS = 20


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def can_see(user: User, clinic_id: UUID) -> bool:
    return user.can(Capability.LEDGER_HANDLE, clinic_id) or user.can(
        Capability.LEDGER_RECONCILE, clinic_id
    )


def _site(request: HttpRequest, capability: Capability | None = None) -> Clinic:
    """The current site when the user sees its ledger (and holds ``capability``), else 403."""
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    user = _user(request)
    if not can_see(user, clinic.id):
        raise PermissionDenied(MESSAGE_NO_PHARMACY)
    if capability == Capability.LEDGER_HANDLE and not ledger.can_handle(user, clinic.id):
        raise PermissionDenied(ledger.MESSAGE_HANDLE_FORBIDDEN)
    if capability == Capability.LEDGER_RECONCILE and not user.can(capability, clinic.id):
        raise PermissionDenied(ledger.MESSAGE_RECONCILE_FORBIDDEN)
    return clinic


def _co_signer(request: HttpRequest, form: Any, clinic: Clinic, purpose: str) -> User:
    return co_signer_verify(
        request=request,
        username=form.cleaned_data["co_sign_username"],
        password=form.cleaned_data["co_sign_password"],
        acting_user=_user(request),
        clinic=clinic,
        allowed_roles=CO_SIGNER_ROLES,
        who=CO_SIGN_WHO,
        purpose=purpose,
    )


def _show_errors(form: Any, exc: ApplicationError, names: dict[str, str]) -> None:
    """Put a service's field errors beside the form's fields."""
    renamed = [FieldError(names.get(e.field, e.field), e.rule) for e in exc.errors]
    apply_errors(form, ApplicationError(exc.message, errors=renamed))


CO_SIGN_FIELDS = {
    "co_sign": "co_sign_username",
    "co_sign.username": "co_sign_username",
    "co_sign.password": "co_sign_password",
}


@dataclass(frozen=True)
class Amount:
    """An amount of a vial's contents, shown as mL and mg together."""

    ml: Decimal
    mg: Decimal


def _amount(ml: Decimal, mg_per_ml: Decimal) -> Amount:
    return Amount(ml=ml, mg=ledger.mg_of(ml, mg_per_ml))


@dataclass(frozen=True)
class LineRow:
    line: CountLine
    vial: Vial
    expected: Amount
    counted: Amount
    difference: Amount
    investigation: Investigation | None

    @property
    def matches(self) -> bool:
        return self.difference.ml == 0


def _line_rows(count: Count) -> list[LineRow]:
    rows = []
    for line in sorted(count.lines.all(), key=lambda x: x.vial.label):
        conc = line.vial.mg_per_ml
        rows.append(
            LineRow(
                line=line,
                vial=line.vial,
                expected=_amount(line.expected_ml, conc),
                counted=_amount(line.counted_ml, conc),
                difference=_amount(line.difference_ml, conc),
                investigation=getattr(line, "investigation", None),
            )
        )
    return rows


# --- Counts -------------------------------------------------------------------------------


@login_required
@require_GET
def count_list(request: HttpRequest) -> HttpResponse:
    clinic = _site(request)
    user = _user(request)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(stocktake.counts_for(clinic_ids=[clinic.id]), number, size)
    due = stocktake.inventory_due(clinic=clinic)
    today = local_today(clinic.time_zone)
    return render(
        request,
        "pharmacy/counts/list.html",
        {
            "clinic": clinic,
            "page": page,
            "querystring": "",
            "can_count": ledger.can_handle(user, clinic.id),
            "inventory": due,
            "inventory_overdue": due.overdue(today),
            "open_investigations": stocktake.open_investigation_count(clinic=clinic),
            "kinds": KIND_CHOICES,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def count_new(request: HttpRequest) -> HttpResponse:
    clinic = _site(request, Capability.LEDGER_HANDLE)
    kind = request.POST.get("kind") or request.GET.get("kind") or Count.Kind.SHIFT
    if kind not in Count.Kind.values:
        kind = Count.Kind.SHIFT
    sheet = stocktake.count_sheet(clinic=clinic, kind=kind)
    form = CountForm(request.POST or None, sheet=sheet, kind=kind)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            witness = _co_signer(request, form, clinic, "count")
            count = stocktake.count_record(
                user=_user(request),
                witness=witness,
                clinic=clinic,
                kind=kind,
                lines=form.lines(),
                timing=data.get("timing", ""),
                note=data.get("note", ""),
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            names = {**CO_SIGN_FIELDS, "lines": "__all__"}
            names.update({f"lines.{v.id}": ml_field_name(v) for v in form.sheet.required})
            names.update({f"lines.{v.id}": ml_field_name(v) for v in form.sheet.optional})
            _show_errors(form, exc, names)
        else:
            n = count.lines.count()
            differing = Investigation.objects.filter(count_line__count=count).count()
            differences = (
                MESSAGE_COUNT_DIFFERS.format(
                    n=differing, s="" if differing == 1 else "s", verb="s" if differing == 1 else ""
                )
                if differing
                else MESSAGE_COUNT_MATCHES
            )
            message = MESSAGE_COUNT_SAVED.format(
                n=n, s="" if n == 1 else "s", differences=differences
            )
            (messages.warning if differing else messages.success)(request, message)
            return redirect("pharmacy:count_detail", count_id=count.id)
    return render(
        request,
        "pharmacy/counts/new.html",
        {
            "clinic": clinic,
            "kind": kind,
            "kind_label": Count.Kind(kind).label,
            "kinds": KIND_CHOICES,
            "is_inventory": kind in stocktake.INVENTORY_KINDS,
            "form": form,
            "today": local_today(clinic.time_zone),
            "nothing": not sheet.required and not sheet.optional,
            "vial_badges": VIAL_BADGES,
        },
    )


@login_required
@require_GET
def count_detail(request: HttpRequest, count_id: UUID) -> HttpResponse:
    clinic = _site(request)
    count = stocktake.count_with_lines(clinic_ids=[clinic.id], count_id=count_id)
    if count is None:
        raise Http404("No such count at this site.")
    rows = _line_rows(count)
    return render(
        request,
        "pharmacy/counts/detail.html",
        {
            "clinic": clinic,
            "count": count,
            "rows": rows,
            "differences": sum(1 for r in rows if not r.matches),
            "timing_label": stocktake.TIMINGS.get(count.timing, ""),
            "vial_badges": VIAL_BADGES,
            "inv_badges": INVESTIGATION_BADGES,
        },
    )


# --- Investigations ------------------------------------------------------------------------


@login_required
@require_GET
def investigation_list(request: HttpRequest) -> HttpResponse:
    clinic = _site(request)
    status = request.GET.get("status", "")
    if status not in Investigation.Status.values:
        status = ""
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(
        stocktake.investigations_for(clinic_ids=[clinic.id], status=status or None), number, size
    )
    rows = []
    for inv in page.items:
        line = inv.count_line
        rows.append(
            {
                "inv": inv,
                "line": line,
                "difference": _amount(line.difference_ml, line.vial.mg_per_ml),
                "badge": INVESTIGATION_BADGES[Investigation.Status(inv.status)],
            }
        )
    base = reverse("pharmacy:investigations")
    tabs = [
        {
            "value": value,
            "label": label,
            "url": f"{base}?{urlencode({'status': value})}" if value else base,
            "current": value == status,
        }
        for value, label in INVESTIGATION_TABS
    ]
    return render(
        request,
        "pharmacy/counts/investigations.html",
        {
            "clinic": clinic,
            "page": page,
            "rows": rows,
            "tabs": tabs,
            "status": status,
            "querystring": urlencode({"status": status}) if status else "",
            "open_count": stocktake.open_investigation_count(clinic=clinic),
            "can_close": _user(request).can(Capability.LEDGER_RECONCILE, clinic.id),
        },
    )


def _vial_history(vial: Vial, until: datetime) -> list[dict[str, Any]]:
    """The vial's last entries up to a count, without patient names: what the director
    compares the count with."""
    entries = list(
        LedgerEntry.objects.filter(vial=vial, at__lte=until)
        .select_related("by", "witness")
        .order_by("-at", "-created_at")[:HISTORY_ROWS]
    )
    entries.reverse()
    return [
        {
            "entry": e,
            "change": _amount(e.ml, vial.mg_per_ml),
            "mg": e.mg,
        }
        for e in entries
    ]


@login_required
@require_http_methods(["GET", "POST"])
def investigation_detail(request: HttpRequest, investigation_id: UUID) -> HttpResponse:
    clinic = _site(request)
    user = _user(request)
    inv = stocktake.investigations_for(clinic_ids=[clinic.id]).filter(id=investigation_id).first()
    if inv is None:
        raise Http404("No such investigation at this site.")
    can_close = user.can(Capability.LEDGER_RECONCILE, clinic.id)
    form = CloseForm(request.POST or None)
    if request.method == "POST":
        if not can_close:
            raise PermissionDenied(ledger.MESSAGE_RECONCILE_FORBIDDEN)
        if form.is_valid():
            try:
                stocktake.investigation_close(
                    user=user, investigation=inv, explanation=form.cleaned_data["explanation"]
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                _show_errors(form, exc, {})
            else:
                messages.success(request, MESSAGE_CLOSED)
                return redirect("pharmacy:investigation_detail", investigation_id=inv.id)
    line = inv.count_line
    vial = line.vial
    # The vial's history includes draws for patients' sessions: a read of the ledger.
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic.id,
        object_type="investigation",
        object_id=inv.id,
        detail={"page": "investigation_detail", "vial": str(vial.id)},
    )
    return render(
        request,
        "pharmacy/counts/investigation.html",
        {
            "clinic": clinic,
            "inv": inv,
            "line": line,
            "count": line.count,
            "vial": vial,
            "expected": _amount(line.expected_ml, vial.mg_per_ml),
            "counted": _amount(line.counted_ml, vial.mg_per_ml),
            "difference": _amount(line.difference_ml, vial.mg_per_ml),
            "current": _amount(vial.balance_ml, vial.mg_per_ml),
            "badge": INVESTIGATION_BADGES[Investigation.Status(inv.status)],
            "history": _vial_history(vial, line.count.counted_at),
            "can_close": can_close and inv.status == Investigation.Status.OPEN,
            "can_record": ledger.can_handle(user, clinic.id),
            "form": form,
        },
    )


# --- Losses -------------------------------------------------------------------------------


def _step_badge(step: losses.Step) -> tuple[str, str]:
    return STEP_BADGES[step.state]


@login_required
@require_GET
def loss_list(request: HttpRequest) -> HttpResponse:
    clinic = _site(request)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(losses.loss_reports_for(clinic_ids=[clinic.id]), number, size)
    today = local_today(clinic.time_zone)
    rows = []
    for report in page.items:
        notice, form_106 = losses.loss_steps(report, today)
        rows.append(
            {
                "report": report,
                "lost_ml": -(report.lost_ml or Decimal("0")),
                "lost_mg": -(report.lost_mg or Decimal("0")),
                "notice": notice,
                "notice_badge": _step_badge(notice),
                "form_106": form_106,
                "form_106_badge": _step_badge(form_106),
            }
        )
    return render(
        request,
        "pharmacy/counts/losses.html",
        {
            "clinic": clinic,
            "page": page,
            "rows": rows,
            "querystring": "",
            "can_report": ledger.can_handle(_user(request), clinic.id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def loss_new(request: HttpRequest) -> HttpResponse:
    clinic = _site(request, Capability.LEDGER_HANDLE)
    vials = list(stocktake.on_hand(clinic))
    form = LossForm(request.POST or None, vials=vials)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = losses.loss_report_create(
                user=_user(request),
                clinic=clinic,
                kind=data["kind"],
                discovered_at=data["discovered_at"],
                description=data["description"],
                items=form.items(),
                police_report=data.get("police_report", ""),
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            names = {f"items.{i}.ml": ml_field_name(v) for i, (v, _) in enumerate(form.items())} | {
                f"items.{i}.vial": ml_field_name(v) for i, (v, _) in enumerate(form.items())
            }
            _show_errors(form, exc, names)
        else:
            messages.success(
                request,
                MESSAGE_LOSS_SAVED.format(
                    notice=report.notice_due.strftime("%a %-d %b %Y"),
                    form=report.form_106_due.strftime("%a %-d %b %Y"),
                ),
            )
            return redirect("pharmacy:loss_detail", report_id=report.id)
    return render(
        request,
        "pharmacy/counts/loss_new.html",
        {"clinic": clinic, "form": form, "vial_badges": VIAL_BADGES},
    )


def _loss_context(
    request: HttpRequest,
    clinic: Clinic,
    report: LossReport,
    notice_form: StepForm | None = None,
    form_106_form: StepForm | None = None,
) -> dict[str, Any]:
    notice, form_106 = losses.loss_steps(report)
    lost = [Amount(ml=-e.ml, mg=-e.mg) for e in report.entries.all()]
    items = [
        {"entry": e, "vial": e.vial, "lost": amount}
        for e, amount in zip(report.entries.all(), lost, strict=True)
    ]
    return {
        "clinic": clinic,
        "report": report,
        "items": items,
        "total": Amount(
            ml=sum((a.ml for a in lost), Decimal("0")),
            mg=sum((a.mg for a in lost), Decimal("0")),
        ),
        "notice": notice,
        "notice_badge": _step_badge(notice),
        "form_106": form_106,
        "form_106_badge": _step_badge(form_106),
        "can_record": _user(request).can(Capability.LEDGER_RECONCILE, clinic.id),
        "notice_form": notice_form or StepForm(prefix="notice", reference_help=NOTICE_HELP),
        "form_106_form": form_106_form or StepForm(prefix="form106", reference_help=FORM_106_HELP),
    }


NOTICE_HELP = "How it was sent (e-mail, fax, letter) and to whom, and any acknowledgement."
FORM_106_HELP = "The confirmation number DEA's online Form 106 gives on submission."


def _loss(clinic: Clinic, report_id: UUID) -> LossReport:
    report = losses.loss_report_with_entries(clinic_ids=[clinic.id], report_id=report_id)
    if report is None:
        raise Http404("No such loss report at this site.")
    return report


@login_required
@require_GET
def loss_detail(request: HttpRequest, report_id: UUID) -> HttpResponse:
    clinic = _site(request)
    report = _loss(clinic, report_id)
    return render(request, "pharmacy/counts/loss.html", _loss_context(request, clinic, report))


def _record_step(request: HttpRequest, report_id: UUID, step: str) -> HttpResponse:
    clinic = _site(request, Capability.LEDGER_RECONCILE)
    report = _loss(clinic, report_id)
    prefix = "notice" if step == "notice" else "form106"
    form = StepForm(
        request.POST,
        prefix=prefix,
        reference_help=NOTICE_HELP if step == "notice" else FORM_106_HELP,
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            if step == "notice":
                losses.loss_notice_record(
                    user=_user(request),
                    report=report,
                    sent_at=data["at"],
                    reference=data["reference"],
                )
            else:
                losses.loss_form_106_record(
                    user=_user(request),
                    report=report,
                    submitted_at=data["at"],
                    reference=data["reference"],
                )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            _show_errors(form, exc, {})
        else:
            messages.success(
                request, MESSAGE_NOTICE_SAVED if step == "notice" else MESSAGE_FORM_106_SAVED
            )
            return redirect("pharmacy:loss_detail", report_id=report.id)
    context = _loss_context(
        request,
        clinic,
        report,
        notice_form=form if step == "notice" else None,
        form_106_form=form if step != "notice" else None,
    )
    return render(request, "pharmacy/counts/loss.html", context)


@login_required
@require_POST
def loss_notice(request: HttpRequest, report_id: UUID) -> HttpResponse:
    return _record_step(request, report_id, "notice")


@login_required
@require_POST
def loss_form_106(request: HttpRequest, report_id: UUID) -> HttpResponse:
    return _record_step(request, report_id, "form_106")


# --- Returns ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def return_new(request: HttpRequest) -> HttpResponse:
    clinic = _site(request, Capability.LEDGER_HANDLE)
    vials = list(losses.returnable(clinic=clinic))
    initial: dict[str, Any] = {}
    chosen = request.GET.get("vial", "")
    pre = next((v for v in vials if str(v.id) == chosen), None)
    if pre is not None:
        initial["vial"] = str(pre.id)
        if pre.status == Vial.Status.QUARANTINED and pre.quarantine_reason:
            initial["reason"] = pre.quarantine_reason[:300]
        elif pre.expiry < local_today(clinic.time_zone):
            initial["reason"] = "Expired"
    form = ReturnForm(request.POST or None, vials=vials, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        vial = form.chosen_vial()
        try:
            witness = _co_signer(request, form, clinic, "return")
            entry = losses.return_record(
                user=_user(request),
                witness=witness,
                vial=vial,
                receiving_party=data["receiving_party"],
                reference=data["reference"],
                reason=data["reason"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            _show_errors(form, exc, CO_SIGN_FIELDS)
        else:
            messages.success(
                request,
                MESSAGE_RETURNED.format(
                    label=vial.label,
                    ml=-entry.ml,
                    mg=-entry.mg,
                    party=entry.receiving_party,
                    reference=entry.reference,
                ),
            )
            return redirect("pharmacy:return_new")
    return render(
        request,
        "pharmacy/counts/return_new.html",
        {
            "clinic": clinic,
            "form": form,
            "chosen": pre,
            "vials": vials,
            "quarantined": [v for v in vials if v.status == Vial.Status.QUARANTINED],
            "recent": [
                {"entry": e, "returned": Amount(ml=-e.ml, mg=-e.mg)}
                for e in losses.recent_returns(clinic=clinic)
            ],
            "vial_badges": VIAL_BADGES,
        },
    )
