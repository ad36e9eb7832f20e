import pytest

from portal import work
from portal.notifications import kinds
from portal.notifications.models import Email


def queued_email(institution, subject="A new exam is ready") -> Email:
    """One due row of durable work (an email to send), as the portal records it."""
    email = Email(
        institution=institution,
        kind=kinds.NEW_EXAM,
        to="bob@example.org",
        subject=subject,
        body="An exam is ready.",
        unsubscribe_url="https://portal.example.org/u/x",
    )
    work.schedule_now(email)
    email.save()
    return email


@pytest.fixture
def email(northside):
    return queued_email(northside)


@pytest.fixture
def short_lease(settings):
    """A lease of 3 s, renewed every second, so the tests see renewals quickly."""
    settings.PORTAL_WORK_LEASE_SECONDS = 3
    return 3
