"""The default exam types: every definition is usable as shipped, its normal macros give
its "otherwise" impression, and installing them is safe to repeat."""

import copy

import pytest

from portal.tenants.models import Institution
from portal.worksheets.defaults import DEFAULTS, install
from portal.worksheets.engine import Worksheet, check_definition
from portal.worksheets.models import ExamType, WorksheetTemplate

BY_CODE = {d["code"]: d for d in DEFAULTS}
PROCEDURES = {"vascular_access", "nerve_block", "paracentesis", "thoracentesis"}
ACEP_APPLICATIONS = {
    "fast",
    "biliary",
    "lung",
    "cardiac",
    "aorta",
    "dvt",
    "renal",
    "ob_first_trimester",
    "soft_tissue",
    "ocular",
    *PROCEDURES,
}
SANDBOX_APPLICATIONS = {
    "Abdomen",
    "Bladder",
    "Cardiac",
    "Lung",
    "MSK",
    "Nerve",
    "OB/GYN",
    "Ocular",
    "Pelvic",
    "Superficial",
    "Thyroid",
    "Vascular",
}
each_default = pytest.mark.parametrize("default", DEFAULTS, ids=lambda d: d["code"])


def worksheet(code: str) -> Worksheet:
    return Worksheet(BY_CODE[code]["definition"])


def test_it_ships_every_application_of_the_issue_and_an_other_exam():
    assert set(BY_CODE) == ACEP_APPLICATIONS | {"other"}
    assert len(BY_CODE) == len(DEFAULTS)  # codes are unique


@each_default
def test_it_ships_definitions_that_pass_the_engine_check(default):
    assert check_definition(default["definition"]) == []
    assert default["name"].strip() and default["code"] == default["code"].lower()
    assert all(code.isdigit() and len(code) == 5 for code in default["cpt_codes"])


@each_default
def test_it_gives_every_choice_a_distinct_code(default):
    for field in Worksheet(default["definition"]).fields.values():
        codes = [code for code, _ in field.choices]
        assert len(codes) == len(set(codes)), field.code


def test_it_lets_no_clarius_application_propose_two_types():
    claims = [name.casefold() for d in DEFAULTS for name in d["clarius_applications"]]
    assert len(claims) == len(set(claims))
    # Only names Clarius sends (the sandbox's catalogue), spelt as it spells them.
    assert {n for d in DEFAULTS for n in d["clarius_applications"]} <= SANDBOX_APPLICATIONS


@pytest.mark.parametrize(
    "application, code",
    [
        ("Lung", "lung"),
        ("Cardiac", "cardiac"),
        ("Ocular", "ocular"),
        ("MSK", "soft_tissue"),
        ("Superficial", "soft_tissue"),
        ("Nerve", "nerve_block"),
        ("OB/GYN", "ob_first_trimester"),
        ("Pelvic", "ob_first_trimester"),
        ("Bladder", "renal"),
    ],
)
def test_it_claims_the_applications_that_name_one_exam(application, code):
    assert application in BY_CODE[code]["clarius_applications"]


def test_it_leaves_the_applications_that_serve_several_exams_unclaimed():
    claimed = {n for d in DEFAULTS for n in d["clarius_applications"]}
    assert not claimed & {"Abdomen", "Vascular", "Thyroid"}


@each_default
def test_it_asks_for_views_except_in_the_other_exam(default):
    views = Worksheet(default["definition"]).views.values()
    if default["code"] == "other":
        assert not list(views)
    else:
        assert any(view.required for view in views)


@each_default
def test_it_requires_a_key_finding_except_in_the_other_exam(default):
    fields = Worksheet(default["definition"]).fields.values()
    assert any(field.required for field in fields) == (default["code"] != "other")


@each_default
def test_it_gives_normals_that_are_valid_answers_section_by_section(default):
    sheet = Worksheet(default["definition"])
    for code, _, fields in sheet.sections:
        normal = sheet.normal(code)
        assert normal == {f.code: f.normal for f in fields if f.normal is not None}
        kept, errors = sheet.clean_answers(normal)
        assert (kept, errors) == (normal, {}), code


@each_default
def test_it_reads_the_normal_macros_as_the_otherwise_impression(default):
    sheet = Worksheet(default["definition"])
    otherwise = default["definition"].get("impression", {}).get("otherwise", "")
    assert sheet.build_impression(sheet.normal()) == otherwise
    if default["code"] != "other":
        assert otherwise.endswith(".") and len(otherwise) > 10


@each_default
def test_it_never_calls_an_exam_normal_when_a_finding_is_not(default):
    """Any answer other than a field's normal adds a sentence of its own, so the
    "otherwise" text (which says the exam was normal) never stands beside it."""
    sheet = Worksheet(default["definition"])
    otherwise = default["definition"].get("impression", {}).get("otherwise", "")
    normal = sheet.normal()
    for field in sheet.fields.values():
        if field.normal is None:
            continue
        others = [c for c, _ in field.choices] if field.type == "choice" else [True, False]
        for value in others:
            if value == field.normal:
                continue
            impression = sheet.build_impression({**normal, field.code: value})
            assert impression and impression != otherwise, (field.code, value)


@each_default
def test_it_only_writes_rules_that_a_valid_answer_can_meet(default):
    sheet = Worksheet(default["definition"])
    for rule in sheet.impression.get("rules", []):
        when = rule["when"]
        field = sheet.fields[when["field"]]
        if "equals" in when and field.type == "choice":
            assert when["equals"] in dict(field.choices), rule
        if "equals" in when and field.type == "yesno":
            assert isinstance(when["equals"], bool), rule
        if "gt" in when or "lt" in when:
            assert field.type == "number", rule
            bound = when.get("gt", when.get("lt"))
            assert field.min <= bound <= field.max, rule
        assert rule["text"].endswith("."), rule
    texts = [rule["text"] for rule in sheet.impression.get("rules", [])]
    assert len(texts) == len(set(texts))


@each_default
def test_it_labels_every_answer_for_the_report(default):
    sheet = Worksheet(default["definition"])
    rows = sheet.sections_answered(sheet.normal())
    shown = [answer for _, answers in rows for _, answer in answers]
    assert bool(shown) == (default["code"] != "other")
    assert all(answer and answer not in ("True", "False") for answer in shown)


def test_it_keeps_the_lung_codes_other_code_relies_on():
    sheet = worksheet("lung")
    assert {"right_sliding", "left_sliding", "right_b_lines", "left_b_lines"} <= set(sheet.fields)
    assert {"right_effusion", "left_effusion"} <= set(sheet.fields)
    assert {"right_anterior", "right_lateral", "left_anterior", "left_lateral"} <= set(sheet.views)
    assert sheet.fields["right_sliding"].required


def test_it_reads_a_positive_fast_like_a_clinician():
    sheet = worksheet("fast")
    answers = {**sheet.normal(), "ruq_fluid": "present", "left_sliding": "absent"}
    assert sheet.build_impression(answers) == (
        "Free fluid in the right upper quadrant (Morison's pouch).\n"
        "Absent lung sliding on the left: pneumothorax not excluded."
    )


def test_it_reads_the_measurements_against_their_thresholds():
    aorta = worksheet("aorta")
    assert "Distal aorta over 3 cm." in aorta.build_impression(
        {**aorta.normal(), "distal_diameter": 4.2}
    )
    assert aorta.build_impression({**aorta.normal(), "distal_diameter": 2.1}) == (
        "No abdominal aortic aneurysm."
    )
    biliary = worksheet("biliary")
    assert biliary.build_impression({**biliary.normal(), "gb_wall": 5, "cbd": 4}) == (
        "Gallbladder wall thickened (over 3 mm)."
    )
    ocular = worksheet("ocular")
    assert "raised intracranial pressure" in ocular.build_impression({"left_onsd": 6.1})
    ob = worksheet("ob_first_trimester")
    assert ob.build_impression({**ob.normal(), "fhr": 90}) == "Fetal heart rate under 100 bpm."


def test_it_offers_the_other_exam_one_optional_text_field_and_nothing_else():
    sheet = worksheet("other")
    (field,) = sheet.fields.values()
    assert (field.type, field.required) == ("text", False)
    assert sheet.views == {} and sheet.impression == {}
    assert sheet.missing({}, {}) == {}
    assert sheet.build_impression({"exam_findings": "Thyroid nodule."}) == ""


# -- install --------------------------------------------------------------------------


def test_it_installs_every_default_when_an_institution_is_made(db):
    institution = Institution.objects.create(name="Eastside", slug="eastside")
    types = ExamType.objects.for_institution(institution)
    assert sorted(types.values_list("code", flat=True)) == sorted(BY_CODE)
    for exam_type in types:
        template = exam_type.current_template()
        default = BY_CODE[exam_type.code]
        assert template.version == 1
        assert template.definition == default["definition"]
        assert template.institution == institution
        assert exam_type.name == default["name"]
        assert exam_type.clarius_applications == default["clarius_applications"]
        assert exam_type.cpt_codes == default["cpt_codes"]


def test_it_installs_again_without_adding_or_changing_anything(northside):
    lung = ExamType.objects.for_institution(northside).get(code="lung")
    lung.name = "Thoracic (ours)"
    lung.save()
    assert install(northside) == 0
    assert ExamType.objects.for_institution(northside).count() == len(DEFAULTS)
    assert WorksheetTemplate.objects.for_institution(northside).count() == len(DEFAULTS)
    lung.refresh_from_db()
    assert lung.name == "Thoracic (ours)"


def test_it_adds_back_only_what_an_institution_lacks(northside, southside, alice):
    ExamType.objects.for_institution(northside).filter(code__in=["fast", "dvt"]).delete()
    assert install(northside, user=alice) == 2
    fast = ExamType.objects.for_institution(northside).get(code="fast")
    assert fast.current_template().created_by == alice
    assert install(southside) == 0
    assert ExamType.objects.for_institution(southside).count() == len(DEFAULTS)


# -- the engine's rules, on the defaults as a clinician meets them ---------------------


@pytest.mark.parametrize(
    "code, answers, error",
    [
        ("lung", {"right_sliding": "maybe"}, "Lung sliding: choose one of absent, present."),
        ("lung", {"right_sliding": ["present"]}, "Lung sliding: choose one of"),
        ("lung", {"right_lung_point": "yes"}, "Lung point: yes (true) or no (false)."),
        ("lung", {"right_lung_point": 1}, "Lung point: yes (true) or no (false)."),
        ("cardiac", {"ivc_diameter": "2"}, "IVC maximal diameter: a number."),
        ("cardiac", {"ivc_diameter": True}, "IVC maximal diameter: a number."),
        ("cardiac", {"ivc_diameter": -0.5}, "IVC maximal diameter: at least 0 cm."),
        ("cardiac", {"ivc_diameter": 9}, "IVC maximal diameter: at most 5 cm."),
        ("cardiac", {"ivc_diameter": float("nan")}, "IVC maximal diameter: a number."),
        ("lung", {"indications": "Dyspnoea"}, "Indications: a list of choices."),
        ("lung", {"indications": ["dyspnoea", "gout"]}, "Indications: not a choice: gout."),
        ("soft_tissue", {"site": 5}, "Site examined (side and region): text."),
        ("soft_tissue", {"site": "x" * 201}, "Site examined (side and region): at most 200"),
    ],
)
def test_it_refuses_an_answer_of_the_wrong_type_range_or_choice(code, answers, error):
    kept, errors = worksheet(code).clean_answers(answers)
    assert kept == {}
    ((field, message),) = errors.items()
    assert field == next(iter(answers)) and message.startswith(error)


def test_it_keeps_valid_answers_beside_refused_ones_and_names_unknown_fields():
    kept, errors = worksheet("cardiac").clean_answers(
        {"lv_function": "hyperdynamic", "ivc_diameter": 7, "ejection": 40}
    )
    assert kept == {"lv_function": "hyperdynamic"}
    assert errors == {
        "ivc_diameter": "IVC maximal diameter: at most 5 cm.",
        "ejection": "Not a field of this worksheet.",
    }
    assert worksheet("cardiac").clean_answers(["lv_function"]) == (
        {},
        {"answers": "Answers are an object of field code to value."},
    )


def test_it_drops_empty_answers_and_tidies_the_others():
    kept, errors = worksheet("lung").clean_answers(
        {
            "right_sliding": None,
            "left_sliding": "",
            "indications": ["hypoxia", "dyspnoea", "hypoxia"],
            "right_lung_point": False,
        }
    )
    assert errors == {}
    # A multi-choice keeps each choice once, in the template's order; False is an answer.
    assert kept == {"indications": ["dyspnoea", "hypoxia"], "right_lung_point": False}
    kept, _ = worksheet("aorta").clean_answers({"mid_diameter": 3.0, "distal_diameter": 2.5})
    assert kept == {"mid_diameter": 3, "distal_diameter": 2.5}
    kept, _ = worksheet("soft_tissue").clean_answers({"site": "  Left forearm  ", "cortex": []})
    assert kept == {"site": "Left forearm"}


def test_it_records_a_view_obtained_or_not_obtained_with_a_reason():
    sheet = worksheet("lung")
    kept, errors = sheet.clean_views(
        {
            "right_anterior": "obtained",
            "left_anterior": {"not_obtained": "  Dressing over the left chest.  "},
            "right_lateral": None,
        }
    )
    assert errors == {}
    assert kept == {
        "right_anterior": "obtained",
        "left_anterior": {"not_obtained": "Dressing over the left chest."},
    }


@pytest.mark.parametrize(
    "status, error",
    [
        ({"not_obtained": ""}, "Say why the view was not obtained."),
        ({"not_obtained": "   "}, "Say why the view was not obtained."),
        ({"not_obtained": None}, "Say why the view was not obtained."),
        ({"not_obtained": "x" * 501}, "A reason has at most 500 characters."),
        ({"not_obtained": "Obese", "by": "bob"}, 'Either "obtained" or'),
        ("not_obtained", 'Either "obtained" or'),
        (True, 'Either "obtained" or'),
    ],
)
def test_it_needs_a_reason_for_a_view_not_obtained(status, error):
    kept, errors = worksheet("lung").clean_views({"left_lateral": status})
    assert kept == {}
    assert errors["left_lateral"].startswith(error)


def test_it_names_views_the_worksheet_does_not_have():
    assert worksheet("lung").clean_views({"apical_four": "obtained"}) == (
        {},
        {"apical_four": "Not a view of this worksheet."},
    )
    assert worksheet("lung").clean_views("obtained")[1] == {
        "views": "Views are an object of view code to a status."
    }


def test_it_lists_what_signing_still_needs():
    sheet = worksheet("lung")
    missing = sheet.missing({}, {})
    assert set(missing) == {
        "right_sliding",
        "right_b_lines",
        "right_effusion",
        "left_sliding",
        "left_b_lines",
        "left_effusion",
        "view:right_anterior",
        "view:right_lateral",
        "view:left_anterior",
        "view:left_lateral",
    }
    assert missing["right_sliding"] == "Lung sliding: required before signing."
    assert "Right anterior" in missing["view:right_anterior"]
    views = {
        "right_anterior": "obtained",
        "right_lateral": "obtained",
        "left_anterior": "obtained",
        "left_lateral": {"not_obtained": "Chest drain in place."},
    }
    assert sheet.missing(sheet.normal(), views) == {}
    assert sheet.missing(sheet.normal("right"), views) == {
        code: f"{label}: required before signing."
        for code, label in [
            ("left_sliding", "Lung sliding"),
            ("left_b_lines", "B-lines"),
            ("left_effusion", "Pleural effusion"),
        ]
    }


def test_it_refits_answers_to_another_version_keeping_what_still_fits():
    version_1 = worksheet("lung")
    definition = copy.deepcopy(BY_CODE["lung"]["definition"])
    right = definition["sections"][1]
    assert right["code"] == "right"
    # Version 2 drops the lung point, grades B-lines anew and drops a view.
    right["fields"] = [f for f in right["fields"] if f["code"] != "right_lung_point"]
    b_lines = next(f for f in right["fields"] if f["code"] == "right_b_lines")
    b_lines["choices"] = [["none", "None"], ["few", "3 or more"], ["many", "Confluent"]]
    b_lines["normal"] = "none"
    definition["impression"]["rules"] = [
        r
        for r in definition["impression"]["rules"]
        if r["when"]["field"] != "right_lung_point" and r["when"]["field"] != "right_b_lines"
    ]
    definition["views"] = [v for v in definition["views"] if v["code"] != "right_lateral"]
    version_2 = Worksheet(definition)

    answers = {**version_1.normal(), "right_b_lines": "diffuse", "right_lung_point": True}
    views = {"right_anterior": "obtained", "right_lateral": "obtained"}
    kept, kept_views, dropped = version_2.refit(answers, views)
    assert kept == {
        k: v for k, v in answers.items() if k not in ("right_b_lines", "right_lung_point")
    }
    assert kept_views == {"right_anterior": "obtained"}
    assert sorted(dropped) == ["right_b_lines", "right_lung_point", "view right_lateral"]


def test_it_builds_the_impression_from_every_rule_that_holds_in_order():
    sheet = worksheet("renal")
    answers = {
        **sheet.normal(),
        "left_hydronephrosis": "moderate",
        "right_stone": True,
        "bladder_volume": 750,
    }
    assert sheet.build_impression(answers) == (
        "Stone seen in the right kidney.\n"
        "Moderate left hydronephrosis.\n"
        "Distended bladder (over 500 mL)."
    )
    assert sheet.build_impression({**sheet.normal(), "bladder_volume": 500}) == (
        "No hydronephrosis."
    )
    assert sheet.build_impression({}) == "No hydronephrosis."


@pytest.mark.parametrize(
    "test, value, holds",
    [
        ({"equals": "present"}, "present", True),
        ({"equals": "present"}, "absent", False),
        ({"in": ["present", "indeterminate"]}, "indeterminate", True),
        ({"in": ["present", "indeterminate"]}, "absent", False),
        ({"includes": "hypoxia"}, ["dyspnoea", "hypoxia"], True),
        ({"includes": "hypoxia"}, ["dyspnoea"], False),
        ({"includes": "hypoxia"}, "hypoxia", False),
        ({"gt": 3}, 3.1, True),
        ({"gt": 3}, 3, False),
        ({"lt": 5}, 4.9, True),
        ({"lt": 5}, 5, False),
        ({"lt": 5}, True, False),
        ({"gt": 3}, "4", False),
    ],
)
def test_it_applies_each_kind_of_impression_test(test, value, holds):
    definition = {
        "sections": [
            {
                "code": "s",
                "title": "S",
                "fields": [{"code": "f", "label": "F", "type": "text"}],
            }
        ],
        "impression": {
            "rules": [{"when": {"field": "f", **test}, "text": "Held."}],
            "otherwise": "Did not hold.",
        },
    }
    expected = "Held." if holds else "Did not hold."
    assert Worksheet(definition).build_impression({"f": value}) == expected


def test_it_shows_answered_fields_by_section_as_a_report_reads_them():
    sheet = worksheet("cardiac")
    answers = {"lv_function": "decreased", "ivc_diameter": 2.4, "indications": ["syncope"]}
    assert sheet.sections_answered(answers) == [
        ("Indications", [("Indications", "Syncope")]),
        (
            "Left ventricle",
            [("Global left ventricular systolic function", "Decreased (mildly to moderately)")],
        ),
        ("Inferior vena cava", [("IVC maximal diameter", "2.4 cm")]),
    ]
    fast = worksheet("fast")
    assert fast.sections_answered({"lung_point": False})[0][1] == [("Lung point", "No")]


def test_a_field_or_view_cannot_take_a_name_the_worksheet_keeps_for_itself():
    from portal.worksheets.engine import check_definition

    for code in ("impression", "answers", "exam_type"):
        field = {"code": code, "label": "X", "type": "text"}
        errors = check_definition({"sections": [{"code": "s", "title": "S", "fields": [field]}]})
        assert any("keeps for itself" in e for e in errors)
        errors = check_definition({"views": [{"code": code, "label": "V"}]})
        assert any("keeps for itself" in e for e in errors)
    # A list where a code belongs is an error, not a crash.
    assert check_definition({"views": [{"code": ["a"], "label": "V"}]})
    assert check_definition({"sections": [{"code": ["a"], "title": "S", "fields": []}]})
