"""The API tests use the review tests' exams and users (see tests/reports/conftest.py):
``exams["north"]`` performed by bob at Northside (alice its admin, bob a reviewer,
charlie a stranger); at Southside alice is a clinician who performed ``alice_south``."""

import json

import pytest

from tests.reports.conftest import exams, login, media_root, users  # noqa: F401


def problem_text(response) -> str:
    """Everything a refusal says, for asserting on its reason."""
    return json.dumps(response.json())


@pytest.fixture
def api(login):  # noqa: F811
    """``api("bob").put_json(url, data, **headers)``: a logged-in client speaking JSON."""

    def client_for(name, institution=None):
        client = login(name, institution)

        def send(method, url, data=None, **headers):
            body = "" if data is None else json.dumps(data)
            call = getattr(client, method)
            return call(url, body, content_type="application/json", headers=headers)

        client.put_json = lambda url, data=None, **h: send("put", url, data, **h)
        client.post_json = lambda url, data=None, **h: send("post", url, data, **h)
        client.patch_json = lambda url, data=None, **h: send("patch", url, data, **h)
        return client

    return client_for


def complete_answers(exam, code="lung") -> dict:
    """The structured part of a complete worksheet as the API takes it: the exam type's
    newest worksheet with every section normal and every view obtained."""
    from portal.worksheets.engine import Worksheet
    from portal.worksheets.models import ExamType

    exam_type = ExamType.objects.get(institution_id=exam.institution_id, code=code)
    sheet = Worksheet(exam_type.current_template().definition)
    return {
        "exam_type": code,
        "answers": sheet.normal(),
        "views": {view: "obtained" for view in sheet.views},
    }
