"""Institutions that sign their members in through the identity provider only.

An institution's administrator may turn password sign-in off (``password_sign_in``)
once single sign-on is configured. A member of any such institution is then refused at
the password form, after the password was found right (a wrong one stays the usual
"wrong address or password", counted by the lockout), with a message pointing at the
provider's button. The refusal counts as a failed sign-in too (lockout and audit log).
Superusers always keep their password, and with single sign-on off nobody is refused:
no one is locked out by a setting they can no longer see.
"""

from django import forms
from django.contrib.auth.signals import user_login_failed

from portal.sso import conf


def refusal(user) -> str | None:
    """Why ``user`` may not sign in with a password, or ``None`` when they may."""
    if not conf.enabled() or user.is_superuser:
        return None
    from portal.tenants.models import Institution

    name = (
        Institution.objects.of_user(user)
        .filter(password_sign_in=False)
        .values_list("name", flat=True)
        .first()
    )
    if name is None:
        return None
    return (
        f"{name} signs its members in through {conf.label()}, not with a password: "
        f"use “Sign in with {conf.label()}”."
    )


def confirm_allowed(request, user, username) -> None:
    """``AuthenticationForm.confirm_login_allowed``'s check: a ``ValidationError`` when
    the user's institution turned password sign-in off."""
    reason = refusal(user)
    if reason is None:
        return
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    raise forms.ValidationError(reason, code="password_sign_in_off")
