"""The API reference (/api/docs/): Swagger UI from the portal's own static files renders
the OpenAPI document under the Content-Security-Policy (any violation fails the test)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_reference_renders_every_operation_under_the_policy(page, live_server, bob):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/exams/" in [p.replace("\u200b", "") for p in paths]
    assert "Clarius portal API" in page.locator(".information-container").inner_text()
    # Everything it loaded came from the portal itself.
    assert requests and all(url.startswith(live_server.url) for url in requests), requests

    page.locator(".opblock-summary-path", has_text="/api/v1/exams/").first.click()
    page.wait_for_selector(".parameters-container")
    assert "review_state" in page.locator(".opblock.is-open").inner_text()
