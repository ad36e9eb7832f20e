"""One labelling rule for data keys (portal.exams.labels): known keys, the fallback, and
the places that use it."""

import pytest

from portal.exams.labels import field_label
from portal.exams.templatetags.display import extra_fields


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("accession_number", "Accession number"),
        ("Accession_number", "Accession number"),
        ("referring_physician", "Referring physician"),
        ("Referring_physician", "Referring physician"),
        ("weight_kg", "Weight (kg)"),
        ("Weight_kg", "Weight (kg)"),
        ("weightKg", "Weight (kg)"),
        ("height_cm", "Height (cm)"),
        ("bmi", "BMI"),
    ],
)
def test_known_keys_have_their_own_label(key, label):
    assert field_label(key) == label


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("referral_reason", "Referral reason"),
        ("ward-name", "Ward name"),
        ("studyDescription", "Study description"),
        ("PATIENT_DATE_OF_BIRTH", "Patient date of birth"),
        ("PATIENT_ID", "Patient ID"),
        ("operator_id", "Operator ID"),
        ("ECGLead", "ECG lead"),
        ("fetal_heart_rate_bpm", "Fetal heart rate (bpm)"),
        ("bladder_volume_ml", "Bladder volume (mL)"),
        ("room", "Room"),
        ("kg", "Kg"),  # a unit alone is a name, not a unit of nothing
        ("  spaced   out  ", "Spaced out"),
        ("logged_in", "Logged in"),
    ],
)
def test_unknown_keys_are_put_into_words(key, label):
    assert field_label(key) == label


@pytest.mark.parametrize("key", ["", "   ", None])
def test_an_empty_key_is_named_as_such(key):
    assert field_label(key) == "(unnamed)"


def test_punctuation_only_is_shown_as_sent():
    assert field_label("__") == "__"


def test_no_underscore_reaches_the_exam_page_labels():
    extra = extra_fields(
        {"accession_number": "ACC-1", "Referring_physician": "Dr A", "Weight_kg": 61.5, "x_y": 1}
    )
    labels = [field.label for field in extra.shown]
    assert labels == ["Accession number", "Referring physician", "Weight (kg)", "X y"]


def test_the_label_filter_is_the_same_rule():
    from django.template import Context, Template

    rendered = Template("{% load display %}{{ key|label }}").render(Context({"key": "weight_kg"}))
    assert rendered == "Weight (kg)"


def test_the_dicom_export_form_labels_demographics_the_same_way():
    from integrations.clarius.forms import DicomExportForm

    labels = dict(DicomExportForm.base_fields["demographics"].choices)
    assert labels["PATIENT_DATE_OF_BIRTH"] == "Patient date of birth"
    assert labels["PATIENT_ID"] == "Patient ID"
