"""The sign-in through the identity provider: who the person is, and their memberships.

``SsoBackend`` takes over from mozilla-django-oidc once the provider's ID token has been
checked (RS256, the provider's published keys, this portal as its audience, the
configured issuer, the sign-in's nonce). A sign-in it refuses leaves the reason on the
request (``sso_refusal``), which the callback shows on the login page.
"""

from __future__ import annotations

import logging

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError, transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from portal.exams.models import AuditEvent
from portal.sso import claims as claim_rules
from portal.sso import conf, provider
from portal.sso.claims import ClaimError
from portal.sso.models import SsoIdentity
from portal.tenants.models import Institution, Membership
from portal.tenants.services import TenantError, change_role, remove_member

logger = logging.getLogger("portal.sso")

UNCHECKED = "The identity provider's answer could not be checked; try again."


class SsoBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(provider.get_setting)

    def __init__(self, *args, **kwargs):
        # Django makes a backend for every password sign-in and every request's session:
        # nothing is read from the provider until a sign-in through it (authenticate).
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        # Only the callback passes a nonce: a password sign-in (even one whose URL holds
        # ?code=&state=) never reaches the provider from here.
        if request is None or "nonce" not in kwargs or not conf.enabled():
            return None
        try:
            OIDCAuthenticationBackend.__init__(self)
            return super().authenticate(request, **kwargs)
        except provider.ProviderUnavailable as e:
            return refuse(request, str(e))
        except (requests.RequestException, SuspiciousOperation, jwt.PyJWTError) as e:
            logger.warning("sso: sign-in refused: %s: %s", type(e).__name__, str(e)[:300])
            return refuse(request, UNCHECKED)
        except (ValueError, KeyError, TypeError) as e:
            # A malformed answer (not JSON, a token without a header field, ...).
            logger.warning("sso: unreadable answer from the provider: %s", type(e).__name__)
            return refuse(request, UNCHECKED)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:  # the ID token (a signed userinfo answer has no nonce)
            if not isinstance(payload, dict):
                raise SuspiciousOperation("ID token: not an object")
            audience = payload.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if self.OIDC_RP_CLIENT_ID not in audiences:
                raise SuspiciousOperation("ID token: issued to another client")
            issuer = settings.PORTAL_OIDC_ISSUER
            if issuer and str(payload.get("iss", "")).rstrip("/") != issuer:
                raise SuspiciousOperation("ID token: from another issuer")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        try:
            user_info = self.get_userinfo(access_token, id_token, payload)
        except (requests.RequestException, ValueError):
            return refuse(self.request, UNCHECKED)
        return self.sign_in(self.request, payload, user_info)

    def sign_in(self, request, payload, user_info):
        """The account for the checked ID token (``payload``) and the userinfo answer,
        its memberships made what the claims say; ``None`` (the reason on the request)
        when the sign-in is refused, with nothing written."""
        try:
            if not isinstance(user_info, dict) or not isinstance(payload, dict):
                raise ClaimError(UNCHECKED)
            subject = claim_rules.subject(payload)
            # OpenID Connect: the userinfo answer is about the ID token's subject.
            if user_info.get("sub") != subject:
                raise ClaimError(UNCHECKED)
            issuer = issuer_of(payload)
            # Claims of the ID token and of the userinfo answer (a provider may put its own
            # claims in either).
            claims = {**payload, **user_info, "sub": subject}
            with transaction.atomic():
                user, identity = self.user_for(issuer, subject, claims)
                if not user.is_active:
                    raise Disabled(user)
                if identity.pk is None:
                    identity.save()
                sync_memberships(request, user, claims)
                identity.last_login_at = timezone.now()
                identity.save(update_fields=["last_login_at"])
        except Disabled as refused:
            from portal.usersessions import audit

            audit.record(request, refused.user, audit.LOGIN_FAILED, method="sso", reason="disabled")
            return refuse(
                request,
                "This account is disabled: ask an administrator of your institution to enable it.",
            )
        except ClaimError as e:
            logger.info("sso: sign-in refused: %s", e)
            return refuse(request, str(e))
        except DatabaseError:
            logger.exception("sso: sign-in could not be saved")
            return refuse(request, "The sign-in could not be saved; try again.")
        # Read by the sign-in's audit record (portal.usersessions.signals).
        request.portal_sign_in_method = "sso"
        return user

    def user_for(self, issuer, subject, claims):
        """The account for the identity: linked before, or linked now by its verified
        address, or made now. Returns ``(user, identity)``; a new identity is unsaved."""
        identity = (
            SsoIdentity.objects.select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is not None:
            return identity.user, identity
        email = claim_rules.verified_email(claims)
        if email is None:
            raise ClaimError(
                "The identity provider did not give a verified email address: the portal "
                "cannot tell which account is yours."
            )
        user = self.UserModel.objects.filter(email=email).first()
        if user is None:
            user = self.UserModel.objects.create_user(
                email=email, password=None, full_name=claim_rules.full_name(claims)
            )
            logger.info("sso: account %s made for a new identity", user.pk)
        elif user.is_superuser or user.is_staff:
            raise ClaimError(
                "This account can only be linked to the identity provider by a superuser "
                "(in the admin)."
            )
        elif SsoIdentity.objects.filter(issuer=issuer, user=user).exists():
            raise ClaimError(
                "This account is linked to another identity at the provider; ask an administrator."
            )
        return user, SsoIdentity(user=user, issuer=issuer, subject=subject)

    def get_user(self, user_id):
        # With single sign-on turned off, its sessions end at their next request.
        if not conf.enabled():
            return None
        return super().get_user(user_id)


class Disabled(Exception):
    def __init__(self, user):
        super().__init__("disabled")
        self.user = user


def issuer_of(payload) -> str:
    issuer = payload.get("iss")
    if (
        not isinstance(issuer, str)
        or not 0 < len(issuer) <= claim_rules.ISSUER_LIMIT
        or not issuer.isprintable()
        or not issuer.isascii()
    ):
        raise ClaimError(UNCHECKED)
    return issuer.rstrip("/")


def refuse(request, message):
    if request is not None:
        request.sso_refusal = message
    return None


def sync_memberships(request, user, claims) -> None:
    """Make the user's memberships what the claims say, where the installation lets the
    provider decide (``PORTAL_OIDC_INSTITUTION_CLAIM``, ``PORTAL_OIDC_ROLE_CLAIM``).
    Each change goes in the institution's audit log. Runs inside the sign-in's
    transaction: a refusal (``ClaimError``) leaves everything as it was."""
    slugs = claim_rules.institution_slugs(claims, settings.PORTAL_OIDC_INSTITUTION_CLAIM)
    role_claim = settings.PORTAL_OIDC_ROLE_CLAIM
    if slugs is None and not role_claim:
        return
    current = {
        m.institution.slug: m
        for m in Membership.objects.filter(user=user).select_related("institution", "user")
    }
    if slugs is None:
        wanted, known = list(current), {}
    else:
        known = {i.slug: i for i in Institution.objects.filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            logger.info("sso: user %s: no institution with the slugs %s", user.pk, unknown[:10])
        wanted = [slug for slug in slugs if slug in known]
    roles = claim_rules.roles(claims, role_claim, wanted)
    ip = _ip(request)

    def record(institution, action, **detail):
        AuditEvent.objects.create(
            institution=institution,
            user=user,
            action=action,
            object_type="membership",
            object_id=str(user.pk),
            ip_address=ip,
            detail={"method": "sso", "email": user.email, **detail},
        )

    try:
        if slugs is not None:
            for slug, membership in current.items():
                if slug not in wanted:
                    remove_member(membership)
                    record(
                        membership.institution,
                        AuditEvent.Action.REMOVE_MEMBER,
                        role=membership.role,
                    )
            for slug in wanted:
                if slug not in current:
                    role = roles[slug] if roles is not None else Membership.Role.CLINICIAN
                    Membership.objects.create(user=user, institution=known[slug], role=role)
                    record(known[slug], AuditEvent.Action.CHANGE_ROLE, previous=None, role=role)
        if roles:
            for slug, membership in current.items():
                if slug in roles and membership.role != roles[slug]:
                    previous = change_role(membership, roles[slug])
                    record(
                        membership.institution,
                        AuditEvent.Action.CHANGE_ROLE,
                        previous=previous,
                        role=membership.role,
                    )
    except TenantError:
        raise ClaimError(
            "The identity provider would leave one of your institutions without an "
            "administrator; ask for another administrator to be named first."
        ) from None


def _ip(request):
    from portal.accounts.throttle import client_ip

    return client_ip(request) if request is not None else None
