"""An administrator makes, copies and revokes an API key in a real browser, under the CSP."""

from django.urls import reverse

from portal.api.models import ApiKey
from tests.browser.test_login_browser import log_in


def test_an_admin_makes_and_revokes_a_key(page, live_server, alice, bob, screenshot):
    log_in(page, live_server, "alice@example.org")
    page.goto(f"{live_server.url}{reverse('api-keys')}")
    page.fill("input[name=name]", "EHR bridge")
    page.select_option("select[name=scope]", "write")
    page.select_option("select[name=member]", label="bob@example.org (reviewer)")
    page.click("button.primary")
    shown = page.locator("#new-api-key").input_value()
    key = ApiKey.objects.get()
    assert shown.startswith(f"cpk_{key.prefix}_") and len(shown) == 45
    screenshot("api-key-made")
    page.goto(f"{live_server.url}{reverse('api-keys')}")
    assert shown not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Revoke")
    page.wait_for_selector(".message.success")
    key.refresh_from_db()
    assert key.revoked_at is not None
    screenshot("api-key-revoked")
