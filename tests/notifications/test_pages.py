"""The inbox (only the recipient's, in its institution), opening a notification, the
choices page and unsubscribing (a signed token: tampering is a 404, never a change)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core import signing
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.notifications import emails, kinds
from portal.notifications.models import Notification, NotificationPreference
from portal.notifications.producing import notify
from portal.tenants.models import Membership
from tests.factories import make_exam


def membership(user, institution):
    return Membership.objects.select_related("user", "institution").get(
        user=user, institution=institution
    )


def tell(user, institution, title="Feedback was signed on an exam you performed", **fields):
    return notify(membership(user, institution), kinds.FEEDBACK_SIGNED, title=title, **fields)


def switch(client, slug):
    client.post(reverse("switch-institution"), {"institution": slug})


@pytest.fixture
def notes(northside, southside, trio):
    alice, bob, charlie = trio
    return {
        "bob": tell(bob, northside, "For bob"),
        "alice_north": tell(alice, northside, "For alice at Northside"),
        "alice_south": tell(alice, southside, "For alice at Southside"),
        "charlie": tell(charlie, southside, "For charlie"),
    }


def test_the_inbox_lists_the_users_own_in_the_current_institution(client, notes, trio):
    alice, bob, charlie = trio
    client.force_login(alice)
    page = client.get(reverse("notification-inbox")).content.decode()
    assert "For alice at Northside" in page
    assert "For alice at Southside" not in page and "For bob" not in page
    assert "For charlie" not in page
    assert '<span class="unread-count">(1)</span><span class="visually-hidden"> unread' in page
    switch(client, "southside")
    page = client.get(reverse("notification-inbox")).content.decode()
    assert "For alice at Southside" in page and "For alice at Northside" not in page


def test_the_inbox_is_newest_first_and_paged(client, northside, bob):
    for n in range(30):
        tell(bob, northside, f"Note number {n:02d}")
    client.force_login(bob)
    first = client.get(reverse("notification-inbox")).content.decode()
    assert first.index("Note number 29") < first.index("Note number 05")
    assert "Note number 04" not in first and "Page 1 of 2" in first
    second = client.get(reverse("notification-inbox"), {"page": 2}).content.decode()
    assert "Note number 04" in second and "Note number 29" not in second
    assert client.get(reverse("notification-inbox"), {"page": "x' or 1"}).status_code == 200


def test_opening_marks_read_and_goes_through_the_exam_pages_access_rule(
    client, northside, bob, trio
):
    alice = trio[0]
    exam = make_exam(northside, bob)
    note = tell(alice, northside, url=f"/exams/{exam.pk}/", exam=exam)
    client.force_login(alice)
    answer = client.get(reverse("notification-open", args=[note.pk]))
    assert answer.status_code == 302 and answer["Location"] == f"/exams/{exam.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert client.get(answer["Location"]).status_code == 200
    assert "unread-count" not in client.get(reverse("notification-inbox")).content.decode()


def test_another_users_notification_is_a_404(client, notes, trio):
    alice, bob, charlie = trio
    client.force_login(charlie)
    for key in ("bob", "alice_north", "alice_south"):
        assert client.get(reverse("notification-open", args=[notes[key].pk])).status_code == 404
        notes[key].refresh_from_db()
        assert notes[key].read_at is None


def test_a_link_from_an_email_switches_to_its_institution(client, notes, trio):
    alice = trio[0]
    client.force_login(alice)  # working in Northside
    note = notes["alice_south"]
    assert client.get(reverse("notification-open", args=[note.pk])).status_code == 302
    page = client.get(reverse("notification-inbox")).content.decode()
    assert "For alice at Southside" in page


def test_a_notification_of_an_institution_left_is_not_shown(client, notes, trio):
    alice = trio[0]
    Membership.objects.filter(user=alice, institution__slug="southside").delete()
    client.force_login(alice)
    answer = client.get(reverse("notification-open", args=[notes["alice_south"].pk]))
    assert answer.status_code == 404


def test_mark_all_read_marks_only_the_users_own_here(client, notes, trio):
    alice = trio[0]
    client.force_login(alice)
    assert client.get(reverse("notification-read-all")).status_code == 405
    assert client.post(reverse("notification-read-all")).status_code == 302
    unread = set(Notification.objects.filter(read_at__isnull=True).values_list("title", flat=True))
    assert unread == {"For bob", "For alice at Southside", "For charlie"}


def test_signed_out_the_inbox_asks_to_sign_in(client, notes):
    assert client.get(reverse("notification-inbox")).status_code == 302
    assert client.get(reverse("notification-open", args=[notes["bob"].pk])).status_code == 302


def test_choices_offer_what_the_role_receives(client, trio, erin, northside):
    alice, bob, _ = trio
    client.force_login(erin)
    page = client.get(reverse("notification-preferences")).content.decode()
    assert "feedback_signed" in page and "new_exam" not in page and "exams_unlinked" not in page
    client.force_login(bob)
    page = client.get(reverse("notification-preferences")).content.decode()
    assert "new_exam" in page and "exams_unlinked" not in page
    client.force_login(alice)
    page = client.get(reverse("notification-preferences")).content.decode()
    assert "new_exam" in page and "exams_unlinked" in page and "ingestion_failing" in page


def test_choices_are_saved_per_membership(client, trio, northside, southside):
    alice = trio[0]
    client.force_login(alice)
    answer = client.post(
        reverse("notification-preferences"),
        {"new_exam": "each", "exams_unlinked": "on"},  # unchecked boxes: off
    )
    assert answer.status_code == 302
    saved = NotificationPreference.objects.get(membership__institution=northside)
    assert (saved.new_exam, saved.feedback_signed, saved.exams_unlinked) == ("each", False, True)
    assert saved.ingestion_failing is False
    assert not NotificationPreference.objects.filter(membership__institution=southside).exists()
    bad = client.post(reverse("notification-preferences"), {"new_exam": "hourly"})
    assert bad.status_code == 400


def unsubscribe_path(user, institution, preference):
    token = emails.unsubscribe_token(membership(user, institution).pk, preference)
    return reverse("notifications-unsubscribe", args=[token])


def test_unsubscribe_asks_on_get_and_turns_off_on_post(client, northside, trio):
    bob = trio[1]
    path = unsubscribe_path(bob, northside, kinds.FEEDBACK_SIGNED)
    page = client.get(path)  # signed out: the link works from any mail client
    assert page.status_code == 200
    assert b"Stop the emails about feedback signed on your exam" in page.content
    assert not NotificationPreference.objects.exists()
    done = client.post(path)
    assert done.status_code == 200 and b"Done: you will receive no more emails" in done.content
    assert NotificationPreference.objects.get().feedback_signed is False


def test_one_click_unsubscribe_of_new_exams(client, northside, trio):
    bob = trio[1]
    path = unsubscribe_path(bob, northside, kinds.NEW_EXAM)
    # RFC 8058: the mail client POSTs this body, without a session or CSRF token.
    answer = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert NotificationPreference.objects.get().new_exam == "none"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        signing.dumps({"m": 1, "k": "feedback_signed"}, salt="another-salt"),
        signing.dumps({"m": 1, "k": "everything"}, salt=emails.UNSUBSCRIBE_SALT),
        signing.dumps({"m": "1", "k": "feedback_signed"}, salt=emails.UNSUBSCRIBE_SALT),
        signing.dumps(["m", 1], salt=emails.UNSUBSCRIBE_SALT),
        signing.dumps({"m": 99999, "k": "feedback_signed"}, salt=emails.UNSUBSCRIBE_SALT),
    ],
)
def test_a_tampered_unsubscribe_token_is_a_404(client, northside, trio, token):
    path = reverse("notifications-unsubscribe", args=[token])
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
    assert not NotificationPreference.objects.exists()


def test_an_edited_token_is_refused(client, northside, trio):
    bob, charlie = trio[1], trio[2]
    path = unsubscribe_path(bob, northside, kinds.FEEDBACK_SIGNED)
    token = path.rstrip("/").rsplit("/", 1)[1]
    other = signing.dumps(
        {"m": Membership.objects.get(user=charlie).pk, "k": "feedback_signed"}, salt="x"
    )
    forged = (
        other.split(":")[0] + ":" + token.split(":", 1)[1]
    )  # charlie's payload, bob's signature
    assert client.post(reverse("notifications-unsubscribe", args=[forged])).status_code == 404
    assert not NotificationPreference.objects.exists()


def test_an_admin_allows_patient_identifiers_in_emails_on_the_settings_page(
    client, northside, trio
):
    alice = trio[0]
    client.force_login(alice)
    page = client.get(reverse("institution-settings")).content.decode()
    assert "Include patient identifiers in emails" in page
    answer = client.post(
        reverse("institution-settings"),
        {
            "idle_timeout_minutes": northside.idle_timeout_minutes,
            "time_zone": northside.time_zone,
            "attestation_statement": northside.attestation_statement,
            "hold_trainee_reports": "on",
            "email_patient_identifiers": "on",
        },
    )
    assert answer.status_code == 302
    northside.refresh_from_db()
    assert northside.email_patient_identifiers is True


@given(token=st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t))
def test_any_unsubscribe_path_is_a_404_never_a_5xx(client, northside, bob, token):
    path = reverse("notifications-unsubscribe", args=["x"]).replace("/x/", f"/{quote(token)}/")
    for answer in (client.get(path), client.post(path)):
        assert answer.status_code in (400, 404)
    assert not NotificationPreference.objects.exists()


@given(page=st.text(max_size=50))
def test_any_page_number_shows_a_page(client, northside, bob, page):
    client.force_login(bob)
    assert client.get(reverse("notification-inbox"), {"page": page}).status_code == 200


def test_the_exam_page_still_decides_who_sees_the_exam(client, northside, bob, erin):
    """A notification only leads to a page; the exam page's own rule decides. A clinician
    sees only the exams they performed, whatever a notification's link says."""
    someone_elses = make_exam(northside, bob)
    note = tell(erin, northside, url=f"/exams/{someone_elses.pk}/", exam=someone_elses)
    client.force_login(erin)
    answer = client.get(reverse("notification-open", args=[note.pk]))
    assert answer["Location"] == f"/exams/{someone_elses.pk}/"
    assert client.get(answer["Location"]).status_code == 404
