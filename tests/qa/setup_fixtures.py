"""Helpers for the QA setup tests: members by name and QA roles."""

from __future__ import annotations

import json

from portal.tenants.models import Membership
from tests.conftest import make_user


def membership(user, institution="northside") -> Membership:
    return Membership.objects.get(user=user, institution__slug=institution)


def add_member(institution, email, role, **flags) -> Membership:
    user = make_user(email, email.split("@")[0].title())
    return Membership.objects.create(user=user, institution=institution, role=role, **flags)


def patch(client, url, body, **headers):
    return client.patch(
        url,
        body if isinstance(body, str | bytes) else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )
