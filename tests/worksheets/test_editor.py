"""The administrators' exam types: edit (a new version), preview, copy, retire, history,
Django admin; across alice (admin of Northside), bob (reviewer there) and charlie
(admin of Southside, a stranger to Northside); and hostile definitions."""

import copy
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.worksheets import forms as worksheet_forms
from portal.worksheets.models import ExamType, WorksheetTemplate
from tests.factories import make_exam
from tests.test_csp import TEMPLATE_REFUSALS, assert_strict

SMALL = {
    "sections": [
        {
            "code": "heart",
            "title": "Heart",
            "fields": [
                {
                    "code": "effusion",
                    "label": "Pericardial effusion",
                    "type": "choice",
                    "choices": [["absent", "Absent"], ["present", "Present"]],
                    "required": True,
                    "normal": "absent",
                },
                {
                    "code": "ef",
                    "label": "Ejection fraction",
                    "type": "number",
                    "unit": "%",
                    "min": 0,
                    "max": 100,
                },
                {"code": "note", "label": "Comment", "type": "text", "max_length": 300},
            ],
        }
    ],
    "views": [{"code": "plax", "label": "Parasternal long axis", "required": True}],
    "impression": {
        "rules": [
            {
                "when": {"field": "effusion", "equals": "present"},
                "text": "Pericardial effusion.",
            },
            {"when": {"field": "ef", "lt": 40}, "text": "Reduced systolic function."},
        ],
        "otherwise": "No pericardial effusion.",
    },
}


@pytest.fixture
def users(trio):
    return dict(zip(["alice", "bob", "charlie"], trio, strict=True))


@pytest.fixture
def login(client, users):
    """``login("alice")`` works in Northside; ``login("alice", "southside")`` as a clinician."""

    def log_in(name, institution=None):
        client.force_login(users[name])
        if institution:
            client.post(reverse("switch-institution"), {"institution": institution})
        return client

    return log_in


@pytest.fixture
def lung(trio, northside):
    return ExamType.objects.for_institution(northside).get(code="lung")


@pytest.fixture
def south_lung(trio, southside):
    return ExamType.objects.for_institution(southside).get(code="lung")


def form_data(exam_type, definition=None, **changes):
    current = exam_type.current_template()
    data = {
        "name": exam_type.name,
        "clarius_applications": ", ".join(exam_type.clarius_applications),
        "cpt_codes": ", ".join(exam_type.cpt_codes),
        "definition": json.dumps(definition if definition is not None else current.definition),
        "based_on": current.version,
    }
    data.update(changes)
    return data


def edit_url(exam_type):
    return reverse("exam-type-edit", args=[exam_type.pk])


# -- the list and the navigation -------------------------------------------------------


def test_the_list_shows_the_institutions_exam_types(login, lung, south_lung, northside, users):
    make_exam(northside, users["bob"], captures=0, exam_type=lung)
    response = login("alice").get(reverse("exam-type-list"))
    assert response.status_code == 200
    assert_strict(response)
    types = list(response.context["exam_types"])
    assert lung in types and south_lung not in types
    assert all(t.institution_id == northside.pk for t in types)
    row = next(t for t in types if t.pk == lung.pk)
    assert (row.current_version, row.exam_count) == (1, 1)
    html = response.content.decode()
    assert "Lung / thoracic" in html and "76604" in html and "In use" in html


def test_admins_find_the_page_in_the_navigation_and_others_do_not(login):
    link = f'href="{reverse("exam-type-list")}"'
    assert link in login("alice").get(reverse("home")).content.decode()
    assert link not in login("bob").get(reverse("home")).content.decode()


# -- the tenant and role matrix --------------------------------------------------------


def pages(exam_type):
    """Every page and endpoint: (method, url, data)."""
    pk = exam_type.pk
    return [
        ("get", reverse("exam-type-list"), None),
        ("get", reverse("exam-type-edit", args=[pk]), None),
        ("post", reverse("exam-type-edit", args=[pk]), form_data(exam_type, name="Taken")),
        ("get", reverse("exam-type-version", args=[pk, 1]), None),
        ("get", reverse("exam-type-copy", args=[pk]), None),
        ("post", reverse("exam-type-copy", args=[pk]), {"name": "Copy", "code": "stolen"}),
        ("post", reverse("exam-type-retire", args=[pk]), {}),
        ("post", reverse("exam-type-restore", args=[pk]), {}),
        ("post", reverse("exam-type-preview"), {"definition": json.dumps(SMALL)}),
    ]


@pytest.mark.parametrize(
    ("viewer", "institution"),
    [("bob", None), ("alice", "southside")],
    ids=["reviewer", "clinician"],
)
def test_members_who_are_not_admins_get_a_404_everywhere(login, lung, viewer, institution):
    client = login(viewer, institution)
    for method, url, data in pages(lung):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url)
    lung.refresh_from_db()
    assert (lung.name, lung.is_active, lung.templates.count()) == ("Lung / thoracic", True, 1)
    assert not ExamType.objects.filter(code="stolen").exists()


def test_another_institutions_admin_gets_a_404_for_its_exam_types(login, lung):
    client = login("charlie")
    for method, url, data in pages(lung)[1:-1]:  # the list and preview are their own
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url)
    listed = client.get(reverse("exam-type-list")).context["exam_types"]
    assert lung not in listed
    lung.refresh_from_db()
    assert (lung.name, lung.is_active, lung.templates.count()) == ("Lung / thoracic", True, 1)
    assert not ExamType.objects.filter(code="stolen").exists()


def test_alice_as_admin_of_southside_gets_a_404_for_northsides(login, lung, south_lung, users):
    client = login("charlie")
    response = client.get(edit_url(south_lung))
    assert response.status_code == 200
    # alice, switched to Southside where she is a clinician, sees nothing.
    client = login("alice", "southside")
    assert client.get(edit_url(south_lung)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, lung):
    for method, url, data in pages(lung):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("login"))


# -- editing ---------------------------------------------------------------------------


def test_saving_a_changed_definition_makes_version_2_and_keeps_version_1(login, lung, users):
    before = copy.deepcopy(lung.current_template().definition)
    changed = copy.deepcopy(before)
    changed["sections"][0]["title"] = "Right chest"
    data = form_data(
        lung,
        changed,
        name="Lung",
        clarius_applications="Lung, Thoracic",
        cpt_codes="76604, 76942",
    )
    response = login("alice").post(edit_url(lung), data)
    assert response.status_code == 302
    versions = {t.version: t for t in lung.templates.all()}
    assert set(versions) == {1, 2}
    assert versions[1].definition == before
    assert versions[2].definition == changed
    assert versions[2].created_by == users["alice"]
    lung.refresh_from_db()
    assert lung.name == "Lung"
    assert lung.clarius_applications == ["Lung", "Thoracic"]
    assert lung.cpt_codes == ["76604", "76942"]
    page = login("alice").get(edit_url(lung))
    assert "now version 2" in page.content.decode()
    assert "Right chest" in page.content.decode()


def test_an_unchanged_definition_makes_no_new_version(login, lung):
    client = login("alice")
    response = client.post(edit_url(lung), form_data(lung, name="Lungs"))
    assert response.status_code == 302
    lung.refresh_from_db()
    assert lung.name == "Lungs"
    # Whitespace and key order are not changes either.
    definition = lung.current_template().definition
    shuffled = json.dumps(dict(reversed(list(definition.items()))), indent=8)
    response = client.post(edit_url(lung), form_data(lung) | {"definition": shuffled})
    assert response.status_code == 302
    assert lung.templates.count() == 1
    assert "its worksheet is unchanged" in client.get(edit_url(lung)).content.decode()


def test_an_invalid_definition_is_a_400_with_its_errors_and_nothing_is_saved(login, lung):
    bad = copy.deepcopy(SMALL)
    bad["sections"][0]["fields"][0]["type"] = "colour"
    bad["impression"]["rules"][0]["when"]["field"] = "nothing"
    response = login("alice").post(edit_url(lung), form_data(lung, bad, name="Changed"))
    assert response.status_code == 400
    errors = response.context["form"].errors["definition"]
    assert any("the type is one of" in e for e in errors)
    assert any("Impression rule 1" in e for e in errors)
    html = response.content.decode()
    assert "Impression rule 1" in html
    lung.refresh_from_db()
    assert (lung.name, lung.templates.count()) == ("Lung / thoracic", 1)


def test_json_errors_say_the_line_and_column(login, lung):
    text = '{\n  "sections": [\n    {"code": "a",, }\n  ]\n}'
    response = login("alice").post(
        edit_url(lung), form_data(lung, definition=None) | {"definition": text}
    )
    assert response.status_code == 400
    (error,) = response.context["form"].errors["definition"]
    assert re.search(r"line 3 column \d+", error), error


def test_a_repeated_key_is_refused(login, lung):
    text = '{"sections": [], "sections": []}'
    response = login("alice").post(edit_url(lung), form_data(lung) | {"definition": text})
    assert response.status_code == 400
    assert "repeats the key" in str(response.context["form"].errors["definition"])


def test_someone_saving_meanwhile_is_said_and_nothing_is_overwritten(login, lung, users):
    first = form_data(lung, SMALL)
    theirs = copy.deepcopy(SMALL)
    theirs["views"][0]["label"] = "PLAX"
    second = form_data(lung, theirs)  # loaded at version 1 as well
    client = login("alice")
    assert client.post(edit_url(lung), first).status_code == 302
    response = client.post(edit_url(lung), second)
    assert response.status_code == 409
    assert "while you were editing" in response.content.decode()
    assert [t.version for t in lung.templates.all()] == [2, 1]
    assert lung.current_template().definition == SMALL


def test_the_unique_version_constraint_is_told_not_raised(lung, users):
    with pytest.raises(worksheet_forms.SavedMeanwhile):
        worksheet_forms.add_version(lung, 1, SMALL, users["alice"])
    assert lung.templates.count() == 1


def test_an_application_proposes_one_exam_type(login, lung, northside):
    other = ExamType.objects.for_institution(northside).exclude(pk=lung.pk).first()
    taken = other.clarius_applications[0] if other.clarius_applications else None
    if taken is None:
        other.clarius_applications = ["Cardiac"]
        other.save()
        taken = "Cardiac"
    data = form_data(lung, clarius_applications=f"Lung, {taken.upper()}")
    response = login("alice").post(edit_url(lung), data)
    assert response.status_code == 400
    assert "already proposes" in str(response.context["form"].errors["clarius_applications"])


def test_cpt_codes_are_checked(login, lung):
    response = login("alice").post(edit_url(lung), form_data(lung, cpt_codes="76604, drop"))
    assert response.status_code == 400
    assert "Not a CPT code" in str(response.context["form"].errors["cpt_codes"])


# -- the preview -----------------------------------------------------------------------


def test_the_preview_endpoint_draws_the_worksheet(login):
    response = login("alice").post(reverse("exam-type-preview"), {"definition": json.dumps(SMALL)})
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Heart",
        "Pericardial effusion",
        "Ejection fraction",
        "0 to 100 %",
        "Parasternal long axis",
        "Normal",
        "fills in Pericardial effusion: Absent",
        "When Pericardial effusion (Heart) is Present: “Pericardial effusion.”",
        "When Ejection fraction (Heart) is less than 40 %: “Reduced systolic function.”",
        "When none of these hold: “No pericardial effusion.”",
        "(required)",
    ):
        assert text in html, text
    assert 'type="radio" name="preview-effusion" value="present" disabled' in html
    assert "<html" not in html  # a fragment


def test_the_preview_endpoint_lists_the_errors(login):
    bad = {"sections": [{"code": "Bad Code", "title": ""}]}
    response = login("alice").post(reverse("exam-type-preview"), {"definition": json.dumps(bad)})
    assert response.status_code == 400
    html = response.content.decode()
    assert "cannot be used yet" in html and "Section 1" in html


def test_the_preview_endpoint_is_post_only(login):
    assert login("alice").get(reverse("exam-type-preview")).status_code == 405


def test_the_preview_button_works_without_javascript_and_saves_nothing(login, lung):
    data = form_data(lung, SMALL, preview="1")
    response = login("alice").post(edit_url(lung), data)
    assert response.status_code == 200
    assert "Parasternal long axis" in response.content.decode()
    assert lung.templates.count() == 1


def test_every_default_exam_type_previews(login, northside):
    client = login("alice")
    for exam_type in ExamType.objects.for_institution(northside):
        response = client.get(edit_url(exam_type))
        assert response.status_code == 200, exam_type.code
        assert response.context["worksheet"] is not None, response.context["preview_errors"]


def test_the_edit_page_loads_its_script_and_holds_no_inline_script(login, lung):
    response = login("alice").get(edit_url(lung))
    assert_strict(response)
    html = response.content.decode()
    assert re.search(r'<script src="[^"]*js/worksheet-editor\.js" defer>', html)
    for what, pattern in TEMPLATE_REFUSALS.items():
        assert not pattern.search(html), what


# -- versions, copy, retire ------------------------------------------------------------


def test_an_older_version_is_shown_read_only(login, lung):
    client = login("alice")
    original = lung.current_template().definition
    client.post(edit_url(lung), form_data(lung, SMALL))
    response = client.get(reverse("exam-type-version", args=[lung.pk, 1]))
    assert response.status_code == 200
    assert response.context["is_current"] is False
    html = response.content.decode()
    assert original["sections"][0]["title"] in html and "read only" in html
    assert "<textarea name=" not in html
    edit = client.get(edit_url(lung)).content.decode()
    assert reverse("exam-type-version", args=[lung.pk, 1]) in edit
    assert "alice@example.org" in edit
    assert client.get(reverse("exam-type-version", args=[lung.pk, 9])).status_code == 404
    assert client.get(f"/institution/exam-types/{lung.pk}/versions/{10**30}/").status_code == 404


def test_a_stored_version_the_checks_now_refuse_is_shown_with_its_problems(login, lung, users):
    worksheet_forms.add_version(lung, 2, {"sections": "old"}, users["alice"])
    client = login("alice")
    for url in (reverse("exam-type-version", args=[lung.pk, 2]), edit_url(lung)):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["worksheet"] is None
        assert "cannot be used yet" in response.content.decode()


def test_an_exam_type_without_a_worksheet_can_be_given_one(login, lung, northside):
    bare = ExamType.objects.create(institution=northside, code="bare", name="Bare")
    client = login("alice")
    assert client.get(edit_url(bare)).status_code == 200
    assert client.get(reverse("exam-type-list")).status_code == 200
    data = {"name": "Bare", "clarius_applications": "", "cpt_codes": "", "definition": "{}"}
    assert client.post(edit_url(bare), data | {"based_on": "0"}).status_code == 302
    assert [(t.version, t.definition) for t in bare.templates.all()] == [(1, {})]


def test_copying_makes_a_new_type_from_the_current_version(login, lung, users):
    client = login("alice")
    client.post(edit_url(lung), form_data(lung, SMALL))
    assert client.get(reverse("exam-type-copy", args=[lung.pk])).status_code == 200
    response = client.post(
        reverse("exam-type-copy", args=[lung.pk]), {"name": "Cardiac lite", "code": "Cardiac_lite"}
    )
    assert response.status_code == 302
    made = ExamType.objects.for_institution(lung.institution).get(code="cardiac_lite")
    assert response["Location"] == edit_url(made)
    assert (made.name, made.clarius_applications, made.cpt_codes) == (
        "Cardiac lite",
        [],
        lung.cpt_codes,
    )
    (template,) = made.templates.all()
    assert (template.version, template.definition, template.created_by) == (
        1,
        SMALL,
        users["alice"],
    )
    assert lung.templates.count() == 2  # the source is untouched


def test_a_copys_code_is_unique_in_the_institution(login, lung, south_lung):
    client = login("alice")
    response = client.post(reverse("exam-type-copy", args=[lung.pk]), {"name": "X", "code": "lung"})
    assert response.status_code == 400
    assert "already has the code" in str(response.context["form"].errors["code"])
    response = client.post(reverse("exam-type-copy", args=[lung.pk]), {"name": "X", "code": "a b"})
    assert response.status_code == 400
    count = ExamType.objects.for_institution(lung.institution).count()
    # Southside's codes do not matter to Northside.
    assert (
        ExamType.objects.for_institution(south_lung.institution).filter(code="lung2").count() == 0
    )
    response = client.post(
        reverse("exam-type-copy", args=[lung.pk]), {"name": "X", "code": "lung2"}
    )
    assert response.status_code == 302
    assert ExamType.objects.for_institution(lung.institution).count() == count + 1


def test_retire_and_restore(login, lung, northside, users):
    exam = make_exam(northside, users["bob"], captures=0, exam_type=lung)
    client = login("alice")
    assert client.get(reverse("exam-type-retire", args=[lung.pk])).status_code == 405
    response = client.post(reverse("exam-type-retire", args=[lung.pk]))
    assert response.status_code == 302
    lung.refresh_from_db()
    assert lung.is_active is False
    exam.refresh_from_db()
    assert exam.exam_type == lung  # exams keep it
    assert "Retired" in client.get(reverse("exam-type-list")).content.decode()
    client.post(reverse("exam-type-restore", args=[lung.pk]))
    lung.refresh_from_db()
    assert lung.is_active is True


# -- hostile input ---------------------------------------------------------------------

HOSTILE = {
    "a NUL in the text": '{"sections": [{"code": "a", "title": "A\x00"}]}',
    "an escaped NUL": '{"sections": [{"code": "a", "title": "A\\u0000"}]}',
    "a lone surrogate": '{"sections": [{"code": "a", "title": "A\\ud800"}]}',
    "a bidi override": '{"sections": [{"code": "a", "title": "\u202eA"}]}',
    "deep nesting": "[" * 5000 + "]" * 5000,
    "deep nesting in an object": '{"sections": ' + "[" * 100 + "]" * 100 + "}",
    "an array": "[]",
    "a string": '"sections"',
    "a number": "1e999",
    "null": "null",
    "empty": "   ",
    "NaN": '{"sections": NaN}',
    "a huge number": '{"sections": [], "views": [' + "9" * 5000 + "]}",
    "a list as a code": json.dumps(
        {"sections": [{"code": ["a"], "title": "A"}, {"code": ["a"], "title": "B"}]}
    ),
    "a list as a view code": json.dumps(
        {"views": [{"code": ["a"], "label": "A"}, {"code": ["a"], "label": "B"}]}
    ),
    "a list as a field code": json.dumps(
        {
            "sections": [
                {"code": "s", "title": "S", "fields": [{"code": [], "label": "x", "type": "text"}]}
            ]
        }
    ),
    "a list as a rule field": '{"impression": {"rules": [{"when": {"field": []}, "text": "x"}]}}',
    "a number as a rule": '{"impression": {"rules": [5]}}',
    "a rule that cannot compare": json.dumps(
        SMALL | {"impression": {"rules": [{"when": {"field": "ef", "in": 5}, "text": "x"}]}}
    ),
    "a gt on text": json.dumps(
        SMALL | {"impression": {"rules": [{"when": {"field": "ef", "gt": "x"}, "text": "x"}]}}
    ),
    "a unit that is not text": json.dumps(
        {
            "sections": [
                {
                    "code": "s",
                    "title": "S",
                    "fields": [{"code": "n", "label": "N", "type": "number", "unit": [1]}],
                }
            ]
        }
    ),
    "a text limit that is not a number": json.dumps(
        {
            "sections": [
                {
                    "code": "s",
                    "title": "S",
                    "fields": [{"code": "t", "label": "T", "type": "text", "max_length": "9"}],
                }
            ]
        }
    ),
    "a sections object": '{"sections": {"code": "a"}}',
    "choices of numbers": json.dumps(
        {
            "sections": [
                {
                    "code": "s",
                    "title": "S",
                    "fields": [{"code": "c", "label": "C", "type": "choice", "choices": [[1, 2]]}],
                }
            ]
        }
    ),
    "fields as a string": '{"sections": [{"code": "s", "title": "S", "fields": "abc"}]}',
    "the impression as a list": '{"impression": []}',
    "not JSON": "{'sections': []}",
    "too long": json.dumps({"sections": [], "views": [], "x": "a" * (200 * 1024)}),
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_definitions_are_a_400_with_a_reason_and_never_saved(login, lung, text):
    client = login("alice")
    preview = client.post(reverse("exam-type-preview"), {"definition": text})
    assert preview.status_code == 400
    assert "cannot be used yet" in preview.content.decode()
    response = client.post(edit_url(lung), form_data(lung) | {"definition": text})
    assert response.status_code == 400
    assert response.context["form"].errors["definition"]
    assert lung.templates.count() == 1


def test_a_body_past_the_servers_limit_is_a_400(login, lung):
    client = login("alice")
    body = {"definition": "x" * (3 * 1024 * 1024)}
    assert client.post(reverse("exam-type-preview"), body).status_code == 400
    assert client.post(edit_url(lung), body).status_code == 400
    assert lung.templates.count() == 1


def test_hostile_names_and_lists_are_cleaned_or_refused(login, lung):
    client = login("alice")
    response = client.post(edit_url(lung), form_data(lung, name="\x00"))
    assert response.status_code == 400
    response = client.post(edit_url(lung), form_data(lung, name="\u202e\u2066 "))
    assert response.status_code == 400
    apps = ", ".join(f"App {i}" for i in range(30))
    response = client.post(edit_url(lung), form_data(lung, clarius_applications=apps))
    assert response.status_code == 400
    response = client.post(edit_url(lung), form_data(lung, name="Lung\u202e scan"))
    assert response.status_code == 302
    lung.refresh_from_db()
    assert lung.name == "Lung scan"


def test_a_copy_with_hostile_input_is_a_400(login, lung):
    client = login("alice")
    url = reverse("exam-type-copy", args=[lung.pk])
    for data in ({"name": "x\x00", "code": "ok"}, {"name": "X", "code": "x" * 41}, {}):
        assert client.post(url, data).status_code == 400, data


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["sections", "views", "impression", "code", "title", "label", "type"])
            | st.sampled_from(["fields", "choices", "rules", "when", "field", "text", "in", "gt"])
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(st.text(max_size=300))
def test_any_text_is_read_without_raising(text):
    definition, errors = worksheet_forms.read_definition(text)
    assert (definition is None) == bool(errors)


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
ANY = SCALARS | st.lists(SCALARS, max_size=3)


def mostly(plausible):
    """Usually a plausible value, sometimes anything at all."""
    return st.one_of(plausible, plausible, plausible, ANY)


FIELDS = st.fixed_dictionaries(
    {
        "label": mostly(st.text(alphabet="ab XY", min_size=1, max_size=10)),
        "type": mostly(st.sampled_from(["choice", "multi", "yesno", "number", "text"])),
        "choices": mostly(st.just([["a", "A"], ["b", "B"]])),
    },
    optional={
        "required": mostly(st.booleans()),
        "unit": mostly(st.sampled_from(["%", "cm", ""])),
        "min": mostly(st.integers(-5, 5) | st.floats(-5, 5)),
        "max": mostly(st.integers(5, 100)),
        "normal": mostly(st.sampled_from(["a", True, 5, ["a"], "x"])),
        "max_length": mostly(st.integers(0, 3000)),
    },
)
RULES = st.fixed_dictionaries(
    {
        "when": st.sampled_from(["equals", "in", "includes", "gt", "lt"]).flatmap(
            lambda test: st.fixed_dictionaries(
                {
                    "field": st.sampled_from(["f0", "f1", "f2"]),
                    test: mostly(st.sampled_from(["a", 3, True, ["a", "b"], 2.5])),
                }
            )
        ),
        "text": mostly(st.text(alphabet="ab XY.", min_size=1, max_size=10)),
    }
)


@given(st.lists(FIELDS, min_size=1, max_size=3), st.lists(RULES, max_size=3), st.booleans())
def test_what_passes_the_checks_always_previews(fields, rules, views):
    """Definitions close to valid, with every optional key of any type: each is refused
    with a reason, or previews without an error."""
    from django.template.loader import render_to_string

    from portal.worksheets.engine import Worksheet

    for i, field in enumerate(fields):
        field["code"] = f"f{i}"
    value = {
        "sections": [{"code": "s", "title": "S", "fields": fields}],
        "views": [{"code": "v", "label": "V", "required": True}] if views else [],
        "impression": {"rules": rules, "otherwise": "Normal."},
    }
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        return  # not JSON at all
    definition, errors = worksheet_forms.read_definition(text)
    if definition is not None:
        render_to_string(
            "worksheets/includes/worksheet_preview.html", {"worksheet": Worksheet(definition)}
        )


# -- Django admin ----------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(email="root@example.org", password="x")


def admin_data(exam_type, definition, **changes):
    data = form_data(exam_type, definition) | {"is_active": "on"}
    count = exam_type.templates.count()
    data |= {
        "templates-TOTAL_FORMS": str(count),
        "templates-INITIAL_FORMS": str(count),
        "templates-MIN_NUM_FORMS": "0",
        "templates-MAX_NUM_FORMS": "1000",
    }
    for i, template in enumerate(exam_type.templates.order_by("-version")):
        data[f"templates-{i}-id"] = str(template.pk)
        data[f"templates-{i}-exam_type"] = str(exam_type.pk)
    return data | changes


def test_the_admin_lists_exam_types_by_institution(client, superuser, lung, south_lung):
    client.force_login(superuser)
    url = reverse("admin:worksheets_examtype_changelist")
    listed = client.get(url, {"institution__id__exact": lung.institution_id}).context["cl"]
    assert lung in listed.result_list and south_lung not in listed.result_list
    page = client.get(reverse("admin:worksheets_examtype_change", args=[lung.pk]))
    assert page.status_code == 200
    formset = page.context["inline_admin_formsets"][0]
    assert [f.original.version for f in formset] == [1]


def test_the_admin_saves_a_changed_definition_as_a_new_version(client, superuser, lung):
    client.force_login(superuser)
    url = reverse("admin:worksheets_examtype_change", args=[lung.pk])
    before = copy.deepcopy(lung.current_template().definition)
    response = client.post(url, admin_data(lung, SMALL, name="Lung (admin)"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert {t.version: t.definition for t in lung.templates.all()} == {1: before, 2: SMALL}
    lung.refresh_from_db()
    assert lung.name == "Lung (admin)"
    response = client.post(url, admin_data(lung, {"sections": "no"}))
    assert response.status_code == 200  # the admin's form page, with the errors
    assert response.context["adminform"].form.errors["definition"]
    assert lung.templates.count() == 2


def test_the_admin_says_when_someone_saved_meanwhile(client, superuser, lung, users):
    client.force_login(superuser)
    url = reverse("admin:worksheets_examtype_change", args=[lung.pk])
    stale = admin_data(lung, SMALL, name="Stale")
    worksheet_forms.add_version(lung, 2, {"sections": []}, users["alice"])
    response = client.post(url, stale, follow=True)
    assert "saved version 2 meanwhile" in response.content.decode()
    assert "changed successfully" not in response.content.decode()
    assert [t.version for t in lung.templates.all()] == [2, 1]
    lung.refresh_from_db()
    assert lung.name == "Lung / thoracic"


def test_the_admin_adds_an_exam_type_with_version_1(client, superuser, northside):
    client.force_login(superuser)
    data = {
        "institution": northside.pk,
        "code": "cardiac_mini",
        "name": "Cardiac mini",
        "clarius_applications": "",
        "cpt_codes": "93308",
        "is_active": "on",
        "definition": json.dumps(SMALL),
        "templates-TOTAL_FORMS": "0",
        "templates-INITIAL_FORMS": "0",
        "templates-MIN_NUM_FORMS": "0",
        "templates-MAX_NUM_FORMS": "1000",
    }
    response = client.post(reverse("admin:worksheets_examtype_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    made = ExamType.objects.for_institution(northside).get(code="cardiac_mini")
    assert made.cpt_codes == ["93308"]
    assert [(t.version, t.definition) for t in made.templates.all()] == [(1, SMALL)]
    response = client.post(reverse("admin:worksheets_examtype_add"), data)
    assert response.status_code == 200  # the code is taken in Northside
    assert ExamType.objects.filter(code="cardiac_mini").count() == 1


def test_versions_are_read_only_in_the_admin(client, superuser, lung):
    client.force_login(superuser)
    template = lung.current_template()
    url = reverse("admin:worksheets_worksheettemplate_change", args=[template.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"version": 7})
    template.refresh_from_db()
    assert template.version == 1
    assert client.get(reverse("admin:worksheets_worksheettemplate_add")).status_code == 403
    assert WorksheetTemplate.objects.filter(exam_type=lung).count() == 1
