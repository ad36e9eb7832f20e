"""Security (your second factors) and the sign-in's second step.

Every page under /account/security/ shows and changes only the signed-in user's own
factors: another user's factor is a 404, whoever asks.
"""

import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.exams.models import AuditEvent
from portal.mfa import passkeys, services
from portal.mfa.forms import AppCodeForm, ConfirmRemovalForm, NewAppForm, RecoveryCodeForm
from portal.mfa.models import AuthenticatorApp, Passkey, RecoveryCodes
from portal.usersessions import audit

NEW_APP = "portal_mfa_new_app"

ADDED = AuditEvent.Action.MFA_ADDED
REMOVED = AuditEvent.Action.MFA_REMOVED
RECOVERY_CODES = AuditEvent.Action.MFA_RECOVERY_CODES
RECOVERY_USED = AuditEvent.Action.MFA_RECOVERY_USED
FAILED = AuditEvent.Action.MFA_FAILED
VERIFIED = AuditEvent.Action.MFA_VERIFIED


def second_step(request, user, next_url):
    """Called by the password sign-in once the password is right: a redirect to the
    second step if the account has a factor, else ``None`` (sign in as usual)."""
    if not services.has_factor(user):
        return None
    services.begin_pending(request, user, next_url)
    return redirect("mfa-verify")


def _qr_svg(data):
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    # The XML declaration is not allowed inside HTML; the rest is plain inline SVG.
    return svg[svg.index("<svg") :]


def _bad_json(reason, status=400):
    return JsonResponse({"error": reason}, status=status)


@login_required
@never_cache
def security(request):
    user = request.user
    recovery = services.recovery_of(user)
    context = {
        "apps": services.apps_of(user),
        "passkeys": services.passkeys_of(user),
        "recovery_remaining": recovery.remaining if recovery else None,
        "has_factor": services.has_factor(user),
        "required": services.policy_requires(user, getattr(request, "memberships", None)),
        "verified": user.is_verified(),
    }
    return render(request, "mfa/security.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def add_app(request):
    """Scan the code (or type the key), then confirm with the first code the app shows."""
    user = request.user
    device = AuthenticatorApp.objects.filter(
        pk=request.session.get(NEW_APP), user=user, confirmed=False
    ).first()
    if device is None:
        if request.method == "POST":
            messages.error(request, "That setup expired: scan the new code.")
            return redirect("mfa-add-app")
        AuthenticatorApp.objects.filter(user=user, confirmed=False).delete()
        device = AuthenticatorApp.create_for(user, "Authenticator app")
        request.session[NEW_APP] = device.pk
    form = NewAppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            device.name = form.cleaned_data["name"] or "Authenticator app"
            device.confirmed = True
            device.save(update_fields=["name", "confirmed"])
            request.session.pop(NEW_APP, None)
            services.login_verified(request, device)
            audit.record(request, user, ADDED, factor="app", name=device.name)
            messages.success(request, "Your authenticator app is added.")
            return redirect("mfa-security")
        form.add_error("code", "That code is not right: check the app shows this account.")
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }
    return render(request, "mfa/add_app.html", context, status=400 if form.errors else 200)


@login_required
@never_cache
@require_http_methods(["GET"])
def add_passkey(request):
    return render(request, "mfa/add_passkey.html")


@login_required
@require_POST
def passkey_register_options(request):
    return JsonResponse(
        {"options": passkeys.registration_options(request, request.user)},
        json_dumps_params={"separators": (",", ":")},
    )


@login_required
@require_POST
def passkey_register(request):
    try:
        passkey = passkeys.register(request, request.user, request.body)
    except passkeys.PasskeyRefused as refused:
        return _bad_json(str(refused))
    services.login_verified(request, passkey)
    audit.record(request, request.user, ADDED, factor="passkey", name=passkey.name)
    messages.success(request, "Your passkey is added.")
    return JsonResponse({"redirect": resolve_url("mfa-security")})


_KINDS = {"app": AuthenticatorApp, "passkey": Passkey}


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def remove(request, kind, pk):
    model = _KINDS.get(kind)
    if model is None:
        raise Http404
    device = get_object_or_404(model, pk=pk, user=request.user, confirmed=True)
    form = ConfirmRemovalForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        name = device.name
        with transaction.atomic():
            device.delete()
            if not services.has_factor(request.user):
                # Recovery codes stand in for a factor; with none left they go too.
                RecoveryCodes.objects.filter(user=request.user).delete()
        audit.record(request, request.user, REMOVED, factor=kind, name=name)
        messages.success(request, f"“{name}” is removed.")
        return redirect("mfa-security")
    context = {"form": form, "device": device, "kind": kind}
    return render(request, "mfa/remove.html", context, status=400 if form.errors else 200)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """New recovery codes, shown once; the old ones stop working."""
    if not services.has_factor(request.user):
        messages.error(request, "Add an authenticator app or a passkey first.")
        return redirect("mfa-security")
    if request.method == "POST":
        codes = RecoveryCodes.regenerate(request.user)
        audit.record(request, request.user, RECOVERY_CODES, count=len(codes))
        return render(request, "mfa/recovery_codes.html", {"codes": codes})
    recovery = services.recovery_of(request.user)
    context = {"recovery_remaining": recovery.remaining if recovery else None}
    return render(request, "mfa/recovery_codes.html", context)


def _throttled(devices):
    """The moment every device allows another try, if none allows one now."""
    waits = []
    for device in devices:
        allowed, info = device.verify_is_allowed()
        if allowed:
            return None
        waits.append((info or {}).get("locked_until") or timezone.now())
    return min(waits) if waits else None


def _verify_page(request, user, app_form, recovery_form, status=200, error=""):
    context = {
        "app_form": app_form,
        "recovery_form": recovery_form,
        "has_app": services.apps_of(user).exists(),
        "has_passkey": services.passkeys_of(user).exists(),
        "has_recovery": services.recovery_of(user) is not None,
        "error": error,
        "pending_email": user.email,
    }
    return render(request, "mfa/verify.html", context, status=status)


def _done(request, user, device, factor):
    audit.record(request, user, VERIFIED, factor=factor)
    next_url = services.complete(request, user, device)
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = resolve_url("home")
    return resolve_url(next_url)


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request):
    """The sign-in's second step: a code from the app or a recovery code (the passkey
    button posts to ``verify_passkey``)."""
    user = services.subject(request)
    if user is None:
        messages.info(request, "Sign in again: the sign-in took too long.")
        return redirect("login")
    if request.user.is_authenticated and request.user.is_verified():
        return redirect("home")
    method = request.POST.get("method")
    app_form = AppCodeForm(request.POST if method == "app" else None)
    recovery_form = RecoveryCodeForm(request.POST if method == "recovery" else None)
    if request.method == "GET":
        return _verify_page(request, user, app_form, recovery_form)
    if method == "app":
        devices_of, form, field, factor = services.apps_of, app_form, "code", "app"
    elif method == "recovery":
        devices_of = lambda u: RecoveryCodes.objects.filter(user=u, confirmed=True)  # noqa: E731
        form, field, factor = recovery_form, "recovery_code", "recovery"
    else:
        return _verify_page(
            request, user, app_form, recovery_form, 400, "Choose how to confirm it is you."
        )
    if not form.is_valid():
        return _verify_page(request, user, app_form, recovery_form, 400)
    with transaction.atomic():
        devices = list(devices_of(user).select_for_update())
        locked_until = _throttled(devices)
        if locked_until is not None:
            seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1)
            form.add_error(field, f"Too many wrong codes: wait {seconds} seconds and try again.")
            audit.record(request, user, FAILED, factor=factor, reason="throttled")
            return _verify_page(request, user, app_form, recovery_form, 429)
        matched = next((d for d in devices if d.verify_token(form.cleaned_data[field])), None)
    if matched is None:
        audit.record(request, user, FAILED, factor=factor)
        form.add_error(field, "That code is not right.")
        return _verify_page(request, user, app_form, recovery_form, 400)
    if factor == "recovery":
        audit.record(request, user, RECOVERY_USED, remaining=matched.remaining)
        left = matched.remaining
        messages.warning(
            request,
            f"You used a recovery code: {left} left. Make new ones on Security if few are left.",
        )
    return HttpResponseRedirect(_done(request, user, matched, factor))


@require_POST
def verify_passkey_options(request):
    user = services.subject(request)
    if user is None:
        return _bad_json("Sign in again: the sign-in took too long.", 401)
    return JsonResponse({"options": passkeys.sign_in_options(request, user)})


@require_POST
def verify_passkey(request):
    user = services.subject(request)
    if user is None:
        return _bad_json("Sign in again: the sign-in took too long.", 401)
    try:
        passkey = passkeys.authenticate(request, user, request.body)
    except passkeys.PasskeyRefused as refused:
        audit.record(request, user, FAILED, factor="passkey")
        return _bad_json(str(refused))
    return JsonResponse({"redirect": _done(request, user, passkey, "passkey")})
