import time

import pyotp
import pytest
from django.urls import reverse

from tests.conftest import PASSWORD


def password_step(client, email, password=PASSWORD, next_url=None):
    """The login form, as a browser posts it."""
    data = {"username": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("login"), data, REMOTE_ADDR="10.0.0.1")


def enrol_app(client, name="Phone"):
    """Add an authenticator app through the pages; its base32 secret (as a person would
    type it from the page)."""
    page = client.get(reverse("mfa-add-app"))
    assert page.status_code == 200
    secret = page.context["secret"].replace(" ", "")
    response = client.post(reverse("mfa-add-app"), {"name": name, "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.content[:800]
    return secret


def next_code(secret):
    """A code the portal has not seen yet: the next time step's (tolerance allows it)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


@pytest.fixture
def admins_must_enrol(settings):
    settings.PORTAL_MFA_REQUIRED_FOR_ADMINS = True
