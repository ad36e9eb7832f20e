"""``manage.py clarius register | settings | records`` against the sandbox."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from integrations.clarius.account.registration import active_endpoint, rotate_endpoint
from tests.clarius.flow import deliver, link_confirmed


def run(*args):
    out = StringIO()
    call_command("clarius", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def portal_base(settings):
    settings.PORTAL_BASE_URL = "https://portal.example.org"


def test_register_patches_clarius_with_our_two_urls(
    clarius_settings, clarius_sandbox, portal_base, db
):
    output = run("register")
    secret = active_endpoint().secret
    registered = clarius_sandbox.state.settings
    assert registered["notification_url"] == (
        f"https://portal.example.org/clarius/notifications/{secret}/"
    )
    assert registered["token_transfer_url"] == "https://portal.example.org/clarius/connect/{token}/"
    assert secret not in output  # masked on screen
    assert "token_transfer_url  https://portal.example.org/clarius/connect/{token}/" in output


def test_settings_says_whether_clarius_matches(clarius_settings, clarius_sandbox, portal_base, db):
    assert run("settings").count("DIFFERS") == 2
    run("register")
    output = run("settings")
    assert "DIFFERS" not in output and output.count("ok ") == 2
    rotate_endpoint()
    output = run("settings")
    assert "DIFFERS notification_url" in output
    assert "clarius register" in output


def test_records_show_failures_and_whether_the_portal_received_them(
    clarius_settings, clarius_sandbox, clarius_webhook_receiver, bob, northside, settings, tmp_path
):
    settings.PORTAL_MEDIA_ROOT = tmp_path
    sandbox_user = clarius_sandbox.add_user("Bob")
    link_confirmed(sandbox_user, bob, northside)
    clarius_sandbox.state.settings["notification_url"] = clarius_webhook_receiver.url
    received = clarius_sandbox.upload_exam(sandbox_user, captures=1, videos=0)
    clarius_sandbox.wait_for_deliveries()
    deliver(received)  # the portal got this one (relayed by the test)
    clarius_webhook_receiver.status = 500
    lost = clarius_sandbox.upload_exam(sandbox_user, captures=1, videos=0)
    clarius_sandbox.wait_for_deliveries()

    lines = run("records").splitlines()
    assert len(lines) == 2
    assert lost.request_uuid in lines[0] and "HTTP 500" in lines[0]  # newest first
    assert lines[0].endswith("NOT RECEIVED")
    assert received.request_uuid in lines[1] and lines[1].endswith("received")
    failures = run("records", "--failures").splitlines()
    assert len(failures) == 1 and lost.request_uuid in failures[0]


def test_errors_from_clarius_are_a_clear_command_error(clarius_settings, clarius_sandbox, db):
    clarius_sandbox.inject(r"services/settings/", status=503, count=10)
    with pytest.raises(CommandError, match="Clarius answered with an error"):
        run("settings")
