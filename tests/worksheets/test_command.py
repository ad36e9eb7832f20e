"""``manage.py examtypes``: list an institution's exam types or the defaults, and add
the defaults an institution lacks."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.worksheets.defaults import DEFAULTS
from portal.worksheets.models import ExamType, WorksheetTemplate


def call(*args):
    out = StringIO()
    call_command("examtypes", *args, stdout=out)
    return out.getvalue()


def rows(output: str) -> dict[str, list[str]]:
    """The table's rows by code: the columns are set apart by two spaces or more."""
    return {line.split()[0]: re.split(r"\s{2,}", line) for line in output.splitlines()}


def test_it_lists_an_institutions_types_with_version_state_and_applications(northside):
    lung = ExamType.objects.for_institution(northside).get(code="lung")
    WorksheetTemplate.objects.create(
        institution=northside, exam_type=lung, version=2, definition={"sections": []}
    )
    ExamType.objects.for_institution(northside).filter(code="aorta").update(is_active=False)
    output = call("list", "--institution", "northside")
    assert [line.split()[0] for line in output.splitlines()] == sorted(d["code"] for d in DEFAULTS)
    table = rows(output)
    assert table["lung"] == ["lung", "Lung / thoracic", "v2", "in use", "Lung"]
    assert table["aorta"] == ["aorta", "Abdominal aorta (AAA)", "v1", "retired", "-"]
    assert table["ob_first_trimester"][-1] == "OB/GYN, Pelvic"


def test_it_lists_only_the_institutions_own_types(northside, southside):
    ExamType.objects.create(institution=southside, code="thyroid", name="Thyroid")
    assert "thyroid" not in call("list", "--institution", "northside")
    south = call("list", "--institution", "southside")
    assert rows(south)["thyroid"] == ["thyroid", "Thyroid", "no worksheet", "in use", "-"]


def test_it_says_when_an_institution_has_no_exam_types(northside):
    ExamType.objects.for_institution(northside).delete()
    assert call("list", "--institution", "northside") == "northside has no exam types.\n"


def test_it_lists_the_defaults_and_the_institutions_that_lack_some(northside, southside):
    ExamType.objects.for_institution(southside).filter(code__in=["dvt", "fast"]).delete()
    output = call("list")
    lines = output.splitlines()
    defaults = [re.split(r"\s{2,}", line) for line in lines[: len(DEFAULTS)]]
    assert defaults == [[d["code"], d["name"]] for d in DEFAULTS]
    assert lines[len(DEFAULTS)] == ""
    assert lines[-1] == "southside lacks 2: fast, dvt"
    assert "northside" not in output


def test_it_says_when_every_institution_has_every_default(northside):
    assert call("list").splitlines()[-1] == "Every institution has every default exam type."


def test_it_installs_what_one_institution_lacks(northside, southside):
    ExamType.objects.for_institution(northside).filter(code__in=["ocular", "renal"]).delete()
    ExamType.objects.for_institution(southside).filter(code="renal").delete()
    assert (
        call("install", "--institution", "northside") == "northside: added 2 default exam types\n"
    )
    assert ExamType.objects.for_institution(northside).count() == len(DEFAULTS)
    assert not ExamType.objects.for_institution(southside).filter(code="renal").exists()
    assert (
        call("install", "--institution", "northside") == "northside: added 0 default exam types\n"
    )


def test_it_installs_for_every_institution(northside, southside):
    ExamType.objects.for_institution(southside).filter(code="renal").delete()
    assert call("install", "--all") == (
        "northside: added 0 default exam types\nsouthside: added 1 default exam type\n"
    )
    assert ExamType.objects.for_institution(southside).count() == len(DEFAULTS)


def test_it_says_so_when_there_is_no_institution_to_install_for(db):
    assert call("install", "--all") == "There are no institutions.\n"


@pytest.mark.parametrize("action", ["list", "install"])
def test_it_refuses_an_unknown_institution(northside, action):
    with pytest.raises(CommandError, match='No institution with the slug "nowhere"'):
        call(action, "--institution", "nowhere")


def test_it_needs_to_know_which_institutions_to_install_for(db):
    with pytest.raises(CommandError, match="one of the arguments --institution --all"):
        call("install")
    with pytest.raises(CommandError, match="not allowed with argument"):
        call("install", "--all", "--institution", "northside")
