"""An administrator edits a worksheet and watches the preview follow, under the CSP."""

import json

from django.urls import reverse

from portal.worksheets.models import ExamType
from tests.browser.test_login_browser import log_in


def test_the_preview_follows_the_definition_as_it_is_typed(
    page, live_server, alice, northside, screenshot
):
    lung = ExamType.objects.for_institution(northside).get(code="lung")
    log_in(page, live_server, "alice@example.org")
    page.goto(f"{live_server.url}{reverse('exam-type-edit', args=[lung.pk])}")
    preview = page.locator("#worksheet-preview")
    assert "Lung sliding" in preview.inner_text()
    screenshot("exam-type-editor")

    definition = json.loads(page.locator("textarea[name=definition]").input_value())
    definition["sections"][0]["title"] = "Right chest, typed"
    page.fill("textarea[name=definition]", json.dumps(definition, indent=2))
    page.wait_for_selector("#worksheet-preview legend:has-text('Right chest, typed')")

    page.fill("textarea[name=definition]", '{"sections": [')
    page.wait_for_selector("#worksheet-preview .definition-errors")
    assert "line 1 column" in preview.inner_text()
    screenshot("exam-type-editor-errors")
    assert lung.templates.count() == 1  # previews save nothing
