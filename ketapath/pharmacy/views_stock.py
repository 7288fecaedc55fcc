"""Stock pages of the controlled-substance ledger, at the current site (the site switcher):
stock on hand with per-strength totals and the vials, receiving a delivery, a vial's
history with waste, quarantine and reversal, witnessed waste, and the strengths the
medical director enables.

Seeing them needs LEDGER_HANDLE or LEDGER_RECONCILE at the site; moving stock needs
LEDGER_HANDLE (a nurse or prescriber with a current licence); enabling strengths
LEDGER_RECONCILE. A page that names patients (a vial's history, the draws waiting to be
accounted for) is audited as a read. Times are the site's, with its zone named; amounts
show mL, mg and the concentration together.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from ketapath.core.forms import apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.pharmacy import ledger
from ketapath.pharmacy.api_stock import (
    MESSAGE_PHARMACY_FORBIDDEN,
    ON_HAND,
    DrawState,
    HistoryLine,
    audit_history_read,
    can_see_ledger,
    check_received_at,
    draw_states,
    entry_for_user,
    second_person,
    stock_on_hand,
    strength,
    vial_entries,
    vial_for_user,
    vial_history,
    vials_query,
)
from ketapath.pharmacy.forms_stock import (
    FIELD_MAP,
    STATUS_FILTERS,
    FormulationForm,
    FormulationToggleForm,
    QuarantineForm,
    ReceiveForm,
    ReverseForm,
    WasteForm,
)
from ketapath.pharmacy.models import Formulation, LedgerEntry, Vial

MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_RECEIVED = (
    "Received {n} vial{s} of lot {lot}: {first}{last}. Write the labels on the vials."
)
MESSAGE_WASTED = "Waste of {ml} mL ({mg} mg) from {label} recorded, witnessed by {witness}."
MESSAGE_QUARANTINED = "Vial {label} is in quarantine; it can no longer be drawn."
MESSAGE_REVERSED = "The entry is reversed; vial {label} now holds {ml} mL ({mg} mg)."
MESSAGE_STRENGTH_SAVED = "{strength} is {state} at this site."
MESSAGE_DRAW_GONE = "That draw has nothing left to account for; choose another."
TIME_FORMAT = "%a %-d %b %Y, %H:%M %Z"
ENTRY_TIME_FORMAT = "%-d %b %Y, %H:%M %Z"
DATE_FORMAT = "%-d %b %Y"
# Draws offered on the waste page: recent ones with an amount not yet given or wasted.
WASTE_DRAW_HOURS = 48

# Status by word and shape as well as colour (DESIGN §11).
STATUS_BADGES: dict[str, tuple[str, str]] = {
    Vial.Status.IN_STOCK: ("badge-ok", "Sealed"),
    Vial.Status.OPEN: ("badge-info", "Open"),
    Vial.Status.QUARANTINED: ("badge-danger", "Quarantined"),
    Vial.Status.EMPTY: ("badge-neutral st-cancelled", "Empty"),
    Vial.Status.RETURNED: ("badge-neutral st-cancelled", "Returned or destroyed"),
    Vial.Status.LOST: ("badge-danger", "Lost or stolen"),
}
KIND_LABELS: dict[str, str] = {
    LedgerEntry.Kind.RECEIVE: "Received",
    LedgerEntry.Kind.DRAW: "Drawn",
    LedgerEntry.Kind.ADMINISTER: "Given",
    LedgerEntry.Kind.WASTE: "Wasted",
    LedgerEntry.Kind.LOSS: "Lost or stolen",
    LedgerEntry.Kind.RETURN: "Returned or destroyed",
    LedgerEntry.Kind.REVERSE: "Reversal",
}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _local(moment: datetime | None, tz: str, fmt: str = TIME_FORMAT) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime(fmt) if moment else ""


def _optional_url(name: str) -> str | None:
    """The page's address when that page exists in this installation."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _site(request: HttpRequest) -> Clinic:
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    if not can_see_ledger(_user(request), clinic.id):
        raise PermissionDenied(MESSAGE_PHARMACY_FORBIDDEN)
    return clinic


def _vial(request: HttpRequest, vial_id: UUID, *, handle: bool = False) -> Vial:
    try:
        return vial_for_user(_user(request), vial_id, handle=handle)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def _errors_to_form(form: forms.BaseForm, exc: ApplicationError) -> None:
    apply_errors(
        form,
        ApplicationError(
            exc.message,
            errors=[FieldError(FIELD_MAP.get(e.field, e.field), e.rule) for e in exc.errors],
        ),
    )


def _amounts(ml: Decimal, mg_per_ml: Decimal) -> str:
    return f"{ml} mL ({ledger.mg_of(ml, mg_per_ml)} mg)"


# --- Stock on hand ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VialRow:
    vial: Vial
    status_class: str
    status_label: str
    warning: str
    expiry: str
    concentration: str
    opened: str
    beyond_use: str

    @property
    def highlight(self) -> bool:
        return bool(self.warning) or self.vial.status == Vial.Status.QUARANTINED


def _warning(v: Vial, now: datetime) -> str:
    """Why a vial still counted as usable must not be drawn (before the hourly job or the
    next draw moves it to quarantine)."""
    if v.status not in ledger.USABLE:
        return ""
    zone = ZoneInfo(v.clinic.time_zone)
    if v.expiry < now.astimezone(zone).date():
        return f"Expired {v.expiry.strftime(DATE_FORMAT)}: do not draw; quarantine it."
    if v.beyond_use_at is not None and now >= v.beyond_use_at:
        return "Past its beyond-use date: do not draw; quarantine it."
    return ""


def vial_rows(vials: list[Vial], now: datetime) -> list[VialRow]:
    rows = []
    for v in vials:
        tz = v.clinic.time_zone
        status_class, status_label = STATUS_BADGES.get(v.status, ("badge-neutral", v.status))
        rows.append(
            VialRow(
                vial=v,
                status_class=status_class,
                status_label=status_label,
                warning=_warning(v, now),
                expiry=v.expiry.strftime(DATE_FORMAT),
                concentration=strength(v.mg_per_ml),
                opened=_local(v.opened_at, tz, ENTRY_TIME_FORMAT),
                beyond_use=_local(v.beyond_use_at, tz, ENTRY_TIME_FORMAT),
            )
        )
    return rows


def _status_filter(raw: str | None) -> tuple[str, Any]:
    value = raw if raw in dict(STATUS_FILTERS) else "on_hand"
    assert value is not None
    statuses: Any = {"on_hand": ON_HAND, "usable": ledger.USABLE, "all": None}.get(value, value)
    return value, statuses


@login_required
@require_GET
def stock(request: HttpRequest) -> HttpResponse:
    """Stock on hand at the site: totals per substance and strength, then the vials."""
    clinic = _site(request)
    user = _user(request)
    now = timezone.now()
    status, statuses = _status_filter(request.GET.get("status"))
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(vials_query(clinic_ids={clinic.id}, status=statuses), number, size)
    today = now.astimezone(ZoneInfo(clinic.time_zone)).date()
    unusable = (
        Vial.objects.filter(clinic=clinic, status__in=ledger.USABLE)
        .filter(Q(expiry__lt=today) | Q(beyond_use_at__lte=now))
        .count()
    )
    return render(
        request,
        "pharmacy/stock/stock.html",
        {
            "clinic": clinic,
            "lines": stock_on_hand(clinic_id=clinic.id),
            "rows": vial_rows(page.items, now),
            "page": page,
            "querystring": urlencode({"status": status}) if status != "on_hand" else "",
            "status": status,
            "status_filters": STATUS_FILTERS,
            "status_label": dict(STATUS_FILTERS)[status],
            "unusable_count": unusable,
            "can_handle": ledger.can_handle(user, clinic.id),
            "can_reconcile": user.can(Capability.LEDGER_RECONCILE, clinic.id),
            "count_url": _optional_url("pharmacy:count_new"),
            "reconciliation_url": _optional_url("pharmacy:reconciliation"),
        },
    )


# --- Receive ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest) -> HttpResponse:
    """A delivery, counted by a second person who co-signs at the same screen."""
    clinic = _site(request)
    user = _user(request)
    can_handle = ledger.can_handle(user, clinic.id)
    if request.method == "POST" and not can_handle:
        raise PermissionDenied(ledger.MESSAGE_HANDLE_FORBIDDEN)
    form = ReceiveForm(request.POST or None, clinic_id=clinic.id)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            received_at = _received_at(data.get("received_at"), clinic)
            counted_by = second_person(
                request,
                user=user,
                clinic=clinic,
                co_sign=form.co_sign(),
                purpose="controlled_substance_receipt",
            )
            receipt = ledger.receive(
                user=user,
                counted_by=counted_by,
                clinic=clinic,
                delivery=ledger.Delivery(
                    formulation=data["formulation"],
                    ndc=data["ndc"],
                    product=data["product"],
                    lot=data["lot"],
                    expiry=data["expiry"],
                    volume_ml=data["volume_ml"],
                    vials=data["vials"],
                    supplier=data["supplier"],
                    invoice=data["invoice"],
                    received_at=received_at,
                ),
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            labels = list(receipt.vial_set.order_by("label").values_list("label", flat=True))
            messages.success(
                request,
                MESSAGE_RECEIVED.format(
                    n=len(labels),
                    s="" if len(labels) == 1 else "s",
                    lot=receipt.lot,
                    first=labels[0],
                    last=f" to {labels[-1]}" if len(labels) > 1 else "",
                ),
            )
            return redirect(f"{reverse('pharmacy:stock')}?{urlencode({'status': 'all'})}")
    enabled = [
        f"{f.get_substance_display()} {strength(f.mg_per_ml)} mg/mL"
        for f in form.fields["formulation"].queryset  # type: ignore[attr-defined]
    ]
    return render(
        request,
        "pharmacy/stock/receive.html",
        {
            "clinic": clinic,
            "form": form,
            "can_handle": can_handle,
            "can_reconcile": user.can(Capability.LEDGER_RECONCILE, clinic.id),
            "enabled": enabled,
        },
    )


def _received_at(value: datetime | None, clinic: Clinic) -> datetime | None:
    """The form's local time at the site (the form reads it in the active zone, which the
    middleware sets to the site's); never in the future."""
    return check_received_at(value, clinic.time_zone)


# --- A vial ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryRow:
    line: HistoryLine
    kind_label: str
    at: str
    balance_mg: Decimal
    reversible: bool
    reversed_by: LedgerEntry | None
    draw_state: DrawState | None


def _draw_choices(states: list[DrawState], tz: str) -> list[tuple[str, str]]:
    choices = []
    for s in states:
        d = s.draw
        who = f" · {d.patient.display_name} ({d.patient.mrn})" if d.patient else ""
        choices.append(
            (
                str(d.id),
                f"{d.vial.label} · drawn {_local(d.at, tz)}{who} · {s.unaccounted_mg} mg "
                "not yet given or wasted",
            )
        )
    return choices


def _vial_page(
    request: HttpRequest,
    vial: Vial,
    *,
    waste_form: WasteForm | None = None,
    quarantine_form: QuarantineForm | None = None,
) -> HttpResponse:
    user = _user(request)
    tz = vial.clinic.time_zone
    entries = vial_entries(vial)
    audit_history_read(user, vial, entries, "vial_page")
    states = draw_states(entries)
    by_id = {e.id: e for e in entries}
    rows = [
        EntryRow(
            line=h,
            kind_label=KIND_LABELS.get(h.entry.kind, h.entry.kind),
            at=_local(h.entry.at, tz, ENTRY_TIME_FORMAT),
            balance_mg=ledger.mg_of(h.balance_ml, vial.mg_per_ml),
            reversible=h.entry.kind != LedgerEntry.Kind.REVERSE and h.reversed_by is None,
            reversed_by=by_id.get(h.reversed_by) if h.reversed_by else None,
            draw_state=states.get(h.entry.id),
        )
        for h in vial_history(vial, entries)
    ]
    open_draws = [s for s in states.values() if s.unaccounted_mg > 0]
    for s in open_draws:
        s.draw.vial = vial
    can_handle = ledger.can_handle(user, vial.clinic_id)
    status_class, status_label = STATUS_BADGES.get(vial.status, ("badge-neutral", vial.status))
    return render(
        request,
        "pharmacy/stock/vial.html",
        {
            "vial": vial,
            "clinic": vial.clinic,
            "row": vial_rows([vial], timezone.now())[0],
            "status_class": status_class,
            "status_label": status_label,
            "rows": rows,
            "can_handle": can_handle,
            "waste_form": waste_form or WasteForm(draws=_draw_choices(open_draws, tz)),
            "quarantine_form": quarantine_form or QuarantineForm(),
            "can_quarantine": vial.status in ledger.USABLE,
            "can_waste": vial.balance_ml > 0 or bool(open_draws),
        },
    )


@login_required
@require_GET
def vial_detail(request: HttpRequest, vial_id: UUID) -> HttpResponse:
    return _vial_page(request, _vial(request, vial_id))


def _open_draw_choices(vial: Vial) -> list[tuple[str, str]]:
    states = draw_states(vial_entries(vial))
    open_draws = [s for s in states.values() if s.unaccounted_mg > 0]
    for s in open_draws:
        s.draw.vial = vial
    return _draw_choices(open_draws, vial.clinic.time_zone)


def _witnessed_waste(
    request: HttpRequest,
    form: WasteForm,
    user: User,
    vial: Vial,
    draw_entry: LedgerEntry | None,
) -> HttpResponse | None:
    """Check the witness's co-signature and record the waste; the redirect to the vial on
    success, None (with the errors on the form) otherwise."""
    data = form.cleaned_data
    try:
        witness = second_person(
            request,
            user=user,
            clinic=vial.clinic,
            co_sign=form.co_sign(),
            purpose="controlled_substance_waste",
        )
        entry = ledger.waste(
            user=user,
            witness=witness,
            vial=vial,
            ml=data["ml"],
            reason=data["reason"],
            draw_entry=draw_entry,
        )
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        _errors_to_form(form, exc)
        return None
    _waste_message(request, entry, vial, witness, data["ml"])
    return redirect("pharmacy:vial", vial_id=vial.id)


@login_required
@require_POST
def vial_waste(request: HttpRequest, vial_id: UUID) -> HttpResponse:
    vial = _vial(request, vial_id, handle=True)
    user = _user(request)
    form = WasteForm(request.POST, draws=_open_draw_choices(vial))
    if form.is_valid():
        data = form.cleaned_data
        draw_entry = None
        if data.get("draw"):
            draw_entry = LedgerEntry.objects.filter(
                id=data["draw"], vial=vial, kind=LedgerEntry.Kind.DRAW
            ).first()
        done = _witnessed_waste(request, form, user, vial, draw_entry)
        if done is not None:
            return done
    return _vial_page(request, vial, waste_form=form)


def _waste_message(
    request: HttpRequest, entry: LedgerEntry, vial: Vial, witness: User, ml: Decimal
) -> None:
    messages.success(
        request,
        MESSAGE_WASTED.format(
            ml=ml,
            mg=abs(entry.mg),
            label=vial.label,
            witness=witness.display_name,
        ),
    )


@login_required
@require_POST
def vial_quarantine(request: HttpRequest, vial_id: UUID) -> HttpResponse:
    vial = _vial(request, vial_id, handle=True)
    form = QuarantineForm(request.POST)
    if form.is_valid():
        try:
            ledger.quarantine(user=_user(request), vial=vial, reason=form.cleaned_data["reason"])
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, MESSAGE_QUARANTINED.format(label=vial.label))
            return redirect("pharmacy:vial", vial_id=vial.id)
    return _vial_page(request, vial, quarantine_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def entry_reverse(request: HttpRequest, entry_id: UUID) -> HttpResponse:
    """The confirmation step of a correction: the entry, what reversing it does to the
    vial, a reason and a tick."""
    user = _user(request)
    try:
        entry = entry_for_user(user, entry_id, handle=True)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    vial = entry.vial
    already = LedgerEntry.objects.filter(reverses=entry).exists()
    form = ReverseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ledger.reverse(user=user, entry=entry, reason=form.cleaned_data["reason"])
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            vial.refresh_from_db()
            messages.success(
                request,
                MESSAGE_REVERSED.format(label=vial.label, ml=vial.balance_ml, mg=vial.balance_mg),
            )
            return redirect("pharmacy:vial", vial_id=vial.id)
    if entry.patient_id:
        audit(
            user=user,
            action=Action.READ,
            clinic_id=entry.clinic_id,
            patient_id=entry.patient_id,
            object_type="ledger_entry",
            object_id=entry.id,
            detail={"page": "entry_reverse"},
        )
    tz = vial.clinic.time_zone
    after = vial.balance_ml - entry.ml
    return render(
        request,
        "pharmacy/stock/reverse.html",
        {
            "entry": entry,
            "vial": vial,
            "clinic": vial.clinic,
            "form": form,
            "kind_label": KIND_LABELS.get(entry.kind, entry.kind),
            "at": _local(entry.at, tz),
            "already": already,
            "is_reversal": entry.kind == LedgerEntry.Kind.REVERSE,
            "balance_now": _amounts(vial.balance_ml, vial.mg_per_ml),
            "balance_after": _amounts(after, vial.mg_per_ml),
            "out_of_range": after < 0 or after > vial.volume_ml,
        },
    )


# --- Waste -----------------------------------------------------------------------------------


def _site_open_draws(clinic: Clinic, now: datetime) -> list[DrawState]:
    """Recent draws at the site with an amount not yet given or wasted (two queries)."""
    draws = list(
        LedgerEntry.objects.filter(
            clinic=clinic,
            kind=LedgerEntry.Kind.DRAW,
            at__gte=now - timedelta(hours=WASTE_DRAW_HOURS),
            reversed_by__isnull=True,
        )
        .select_related("vial", "patient")
        .prefetch_related(
            Prefetch("outcomes", queryset=LedgerEntry.objects.select_related("reversed_by"))
        )
        .order_by("-at")
    )
    states = []
    for d in draws:
        account = ledger.draw_account(d)
        if account.unaccounted_mg > 0:
            states.append(
                DrawState(
                    draw=d,
                    drawn_mg=account.drawn_mg,
                    administered_mg=account.administered_mg,
                    wasted_mg=account.wasted_mg,
                )
            )
    return states


@login_required
@require_http_methods(["GET", "POST"])
def waste(request: HttpRequest) -> HttpResponse:
    """Waste from a vial or from a draw, witnessed at the time."""
    clinic = _site(request)
    user = _user(request)
    can_handle = ledger.can_handle(user, clinic.id)
    if request.method == "POST" and not can_handle:
        raise PermissionDenied(ledger.MESSAGE_HANDLE_FORBIDDEN)
    vials = list(
        vials_query(
            clinic_ids={clinic.id}, status=(*ledger.USABLE, Vial.Status.QUARANTINED)
        ).filter(balance_ml__gt=0)
    )
    open_draws = _site_open_draws(clinic, timezone.now())
    form = WasteForm(
        request.POST or None,
        vials=vials,
        draws=_draw_choices(open_draws, clinic.time_zone),
        initial={"vial": request.GET.get("vial", "")},
    )
    if can_handle and open_draws:
        audit(
            user=user,
            action=Action.READ,
            clinic_id=clinic.id,
            object_type="draw_list",
            detail={
                "page": "waste",
                "patients": sorted(
                    {str(s.draw.patient_id) for s in open_draws if s.draw.patient_id}
                ),
            },
        )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        by_id = {str(v.id): v for v in vials}
        draw_entry = next((s.draw for s in open_draws if str(s.draw.id) == data.get("draw")), None)
        vial = by_id.get(data.get("vial") or "") or (draw_entry.vial if draw_entry else None)
        if vial is None:
            form.add_error("vial", "Choose the vial, or the draw whose remainder you waste.")
        else:
            done = _witnessed_waste(request, form, user, vial, draw_entry)
            if done is not None:
                return done
    return render(
        request,
        "pharmacy/stock/waste.html",
        {
            "clinic": clinic,
            "form": form,
            "can_handle": can_handle,
            "has_vials": bool(vials),
            "draw_hours": WASTE_DRAW_HOURS,
        },
    )


# --- Strengths -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def formulations(request: HttpRequest) -> HttpResponse:
    """The strengths the site may receive; the medical director adds, enables and
    disables them, everyone else with the ledger reads them."""
    clinic = _site(request)
    user = _user(request)
    can_edit = user.can(Capability.LEDGER_RECONCILE, clinic.id)
    form = FormulationForm()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(ledger.MESSAGE_RECONCILE_FORBIDDEN)
        if "formulation" in request.POST:
            toggle = FormulationToggleForm(request.POST)
            found = None
            if toggle.is_valid():
                found = Formulation.objects.filter(
                    id=toggle.cleaned_data["formulation"], clinic=clinic
                ).first()
            if found is None:
                raise Http404("No such strength at this site.")
            _set_strength(
                request, clinic, found.substance, found.mg_per_ml, toggle.cleaned_data["enabled"]
            )
            return redirect("pharmacy:formulations")
        else:
            form = FormulationForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    _set_strength(
                        request, clinic, data["substance"], data["mg_per_ml"], data["enabled"]
                    )
                except ApplicationError as exc:
                    _errors_to_form(form, exc)
                else:
                    return redirect("pharmacy:formulations")
    rows = list(
        Formulation.objects.filter(clinic=clinic)
        .select_related("changed_by")
        .order_by("substance", "mg_per_ml")
    )
    return render(
        request,
        "pharmacy/stock/formulations.html",
        {
            "clinic": clinic,
            "rows": [
                (f, _local(f.changed_at, clinic.time_zone), strength(f.mg_per_ml)) for f in rows
            ],
            "form": form,
            "can_edit": can_edit,
        },
    )


def _set_strength(
    request: HttpRequest, clinic: Clinic, substance: str, mg_per_ml: Decimal, enabled: bool
) -> None:
    try:
        f = ledger.formulation_set(
            user=_user(request),
            clinic=clinic,
            substance=substance,
            mg_per_ml=mg_per_ml,
            enabled=enabled,
        )
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    messages.success(
        request,
        MESSAGE_STRENGTH_SAVED.format(
            strength=f"{f.get_substance_display()} {strength(f.mg_per_ml)} mg/mL",
            state="enabled" if f.enabled else "disabled: it can no longer be received",
        ),
    )
