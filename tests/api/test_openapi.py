"""The OpenAPI document: generated from the code, checked in, served with its reference."""

import difflib
import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from portal.api import errors

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    call_command("spectacular", "--validate", "--file", str(out))
    return out.read_text()


def test_the_checked_in_document_is_the_one_the_code_generates(generated):
    checked_in = CHECKED_IN.read_text() if CHECKED_IN.exists() else ""
    if generated != checked_in:
        diff = difflib.unified_diff(
            checked_in.splitlines(), generated.splitlines(), "docs/openapi.yaml", "generated"
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(
            "docs/openapi.yaml differs from the API the code describes: run `make schema` "
            f"and commit docs/openapi.yaml.\n{shown}",
            pytrace=False,
        )


def test_it_is_openapi_3_1_and_describes_the_versioned_api_only(generated):
    document = yaml.safe_load(generated)
    assert document["openapi"] == "3.1.0"
    assert document["paths"] and all(p.startswith("/api/v1/") for p in document["paths"])


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_every_error_answer_of_every_operation_is_the_problem_component(generated):
    document = yaml.safe_load(generated)
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert {"401", "403", "404", "429"} <= set(responses), (path, method)
        for code, response in responses.items():
            if int(code) >= 400 and code != "416":
                assert list(response["content"]) == ["application/problem+json"], (path, code)
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
        assert "WWW-Authenticate" in responses["401"]["headers"]
        assert "Retry-After" in responses["429"]["headers"]


def test_every_list_pages_with_cursors(generated):
    document = yaml.safe_load(generated)
    for path, _method, operation in operations(document):
        body = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        ref = (body or {}).get("schema", {}).get("$ref", "")
        if not ref.split("/")[-1].startswith("Paginated"):
            continue
        names = {p["name"] for p in operation.get("parameters", [])}
        assert {"cursor", "page_size"} <= names, path
        component = document["components"]["schemas"][ref.split("/")[-1]]
        assert set(component["properties"]) == {"next", "previous", "results"}


def test_the_exam_list_documents_the_worklists_filters(generated):
    document = yaml.safe_load(generated)
    operation = document["paths"]["/api/v1/exams/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names >= {
        "status", "review_state", "operator", "reviewer", "submitted_from", "submitted_to",
        "submitted_after", "q", "sort", "exam_uuid", "cursor", "page_size",
    }  # fmt: skip


@pytest.mark.django_db
def test_the_document_is_served_as_yaml_and_json(client):
    response = client.get(reverse("api-schema"))
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"] == "3.1.0"
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.json()["openapi"] == "3.1.0"


@pytest.mark.django_db
def test_the_reference_page_loads_its_scripts_from_the_portal_under_the_policy(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
    assert directives["script-src"].split()[0] == "'self'"
    assert directives["img-src"].split() == ["'self'", "data:"]  # Swagger UI's icons
    assert "data:" not in client.get("/accounts/login/")["Content-Security-Policy"]
    assert "<style" not in html and "style=" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert len(scripts) == 4  # Swagger UI's two, its start-up, the portal's mending
    assert all(body.strip() == "" and 'src="' in attrs for attrs, body in scripts)
    sources = re.findall(r'src="([^"]+)"', html)
    assert all(src.startswith("/") and not src.startswith("//") for src in sources)
    init = client.get(next(src for src in sources if "?script" in src).replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", sorted(errors.PROBLEM_TYPES))
def test_every_problem_type_uri_explains_itself(client, slug):
    response = client.get(f"/api/problems/{slug}")
    assert response.status_code == 200
    assert errors.PROBLEM_TYPES[slug] in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_problem_type_is_a_404(client):
    assert client.get("/api/problems/no-such-thing").status_code == 404
