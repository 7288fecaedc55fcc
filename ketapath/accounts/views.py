"""Login, logout and the site switcher."""

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ketapath.accounts.forms import LoginForm
from ketapath.accounts.middleware import SESSION_CLINIC, SESSION_LAST_SEEN, SESSION_STARTED
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, Outcome, audit

MESSAGE_LOCKED_OUT = (
    "Too many failed sign-in attempts for this account. Try again in {minutes} minutes or ask "
    "your clinic admin."
)
MESSAGE_SIGNED_OUT = "You are signed out."
MESSAGE_NOT_YOUR_SITE = "You do not work at that site."


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Shown instead of the login page while django-axes has the username locked out."""
    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    username = request.POST.get("username", "")[:150]
    audit(
        user=None,
        username=username,
        action=Action.LOGIN_FAILED,
        outcome=Outcome.DENIED,
        detail={"reason": "locked_out"},
    )
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse(
            {
                "detail": MESSAGE_LOCKED_OUT.format(minutes=minutes),
                "code": "locked_out",
                "errors": [],
            },
            status=429,
        )
    form = LoginForm(request)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "locked_message": MESSAGE_LOCKED_OUT.format(minutes=minutes)},
        status=429,
    )


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        now = time.time()
        self.request.session[SESSION_STARTED] = now
        self.request.session[SESSION_LAST_SEEN] = now
        audit(user=form.get_user(), action=Action.LOGIN)
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        audit(
            user=None,
            username=form.data.get("username", "")[:150],
            action=Action.LOGIN_FAILED,
            outcome=Outcome.DENIED,
        )
        return super().form_invalid(form)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit(user=request.user, action=Action.LOGOUT)
    logout(request)
    messages.info(request, MESSAGE_SIGNED_OUT)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@login_required
@require_POST
def switch_clinic(request: HttpRequest) -> HttpResponse:
    chosen = request.POST.get("clinic", "")
    if any(str(c) == chosen for c in clinic_ids_for(request.user)):
        request.session[SESSION_CLINIC] = chosen
    else:
        messages.error(request, MESSAGE_NOT_YOUR_SITE)
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return HttpResponseRedirect(target)
