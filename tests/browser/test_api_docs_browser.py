"""The API reference (/api/docs/): Swagger UI from the portal's own static files renders
the OpenAPI document under the Content-Security-Policy (any violation fails the test),
and passes axe-core as drawn and with an operation open, not only as first loaded."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_reference_renders_every_operation_under_the_policy(page, live_server, bob, axe):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/exams/" in [p.replace("\u200b", "") for p in paths]
    assert "Clarius portal API" in page.locator(".information-container").inner_text()
    # Everything it loaded came from the portal itself.
    assert requests and all(url.startswith(live_server.url) for url in requests), requests
    page.wait_for_selector("#api-docs-loading", state="detached")
    axe.check(page)

    page.locator(".opblock-summary-path", has_text="/api/v1/exams/").first.click()
    page.wait_for_selector(".parameters-container")
    assert "review_state" in page.locator(".opblock.is-open").inner_text()
    # static/js/api-docs.js mends what Swagger UI draws one animation frame later.
    unmended = (
        "#swagger-ui select:not([aria-label]), #swagger-ui .highlight-code > pre:not([tabindex])"
    )
    page.wait_for_function(f"() => !document.querySelector({unmended!r})")
    axe.check(page)
