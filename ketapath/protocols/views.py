"""Protocol template pages: the site's templates, one template with its versions, the
medical director's edit and approval."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden, NotFound
from ketapath.core.forms import apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.protocols import selectors, services
from ketapath.protocols.forms import ProtocolForm
from ketapath.protocols.models import ProtocolTemplate

MESSAGE_SAVED = "Saved as version {version} ({status})."
MESSAGE_APPROVED = "Version {version} approved; courses can now be ordered under it."
MESSAGE_NO_SITE = "Choose a site first."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _site(request: HttpRequest, capability: Capability) -> Clinic:
    clinic = getattr(request, "clinic", None)
    if clinic is None:
        raise Http404(MESSAGE_NO_SITE)
    if not _user(request).can(capability, clinic.id):
        raise PermissionDenied(
            services.MESSAGE_FORBIDDEN
            if capability == Capability.PROTOCOL_WRITE
            else "Your role does not read protocol templates."
        )
    return clinic


def _template(request: HttpRequest, template_id: UUID, capability: Capability) -> ProtocolTemplate:
    clinic = _site(request, capability)
    try:
        return selectors.protocol_get(clinic_ids={clinic.id}, template_id=template_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def protocol_list(request: HttpRequest) -> HttpResponse:
    clinic = _site(request, Capability.PROTOCOL_READ)
    services.protocols_ship(clinic=clinic)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(selectors.protocols_for_clinic(clinic=clinic), number, size)
    return render(
        request,
        "protocols/list.html",
        {
            "page": page,
            "clinic": clinic,
            "policy": clinic_policy_current(clinic=clinic),
            "can_write": _user(request).can(Capability.PROTOCOL_WRITE, clinic.id),
            "querystring": "",
        },
    )


@login_required
def protocol_detail(request: HttpRequest, template_id: UUID) -> HttpResponse:
    template = _template(request, template_id, Capability.PROTOCOL_READ)
    versions = list(selectors.protocol_versions(template=template)[:20])
    return render(
        request,
        "protocols/detail.html",
        {
            "template": template,
            "versions": versions,
            "latest": versions[0] if versions else template,
            "can_write": _user(request).can(Capability.PROTOCOL_WRITE, template.clinic_id),
            "policy": clinic_policy_current(clinic=template.clinic),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def protocol_edit(request: HttpRequest, template_id: UUID | None = None) -> HttpResponse:
    clinic = _site(request, Capability.PROTOCOL_WRITE)
    template = _template(request, template_id, Capability.PROTOCOL_WRITE) if template_id else None
    form = ProtocolForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            if template is None:
                saved = services.protocol_create(
                    user=_user(request), clinic=clinic, data=form.service_data()
                )
            else:
                saved = services.protocol_update(
                    user=_user(request), template=template, data=form.service_data()
                )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                MESSAGE_SAVED.format(version=saved.version, status=saved.get_status_display()),
            )
            return redirect("protocols:detail", template_id=saved.id)
    return render(
        request,
        "protocols/form.html",
        {
            "form": form,
            "template": template,
            "clinic": clinic,
            "policy": clinic_policy_current(clinic=clinic),
        },
    )


@login_required
@require_POST
def protocol_approve(request: HttpRequest, template_id: UUID) -> HttpResponse:
    template = _template(request, template_id, Capability.PROTOCOL_WRITE)
    try:
        services.protocol_approve(user=_user(request), template=template)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(
            request, " ".join([exc.message, *sorted({e.rule for e in exc.errors} - {exc.message})])
        )
    else:
        messages.success(request, MESSAGE_APPROVED.format(version=template.version))
    return redirect("protocols:detail", template_id=template.id)
