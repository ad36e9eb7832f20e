"""Human labels for data keys: one rule wherever a stored key is shown to people.

Patient and exam data from Clarius comes with keys such as ``accession_number`` or
``weight_kg``; fields the portal was never told about keep whatever key was sent. A page,
the PDF or a form shows ``field_label(key)``: the label from ``KNOWN`` (with the unit,
"Weight (kg)") or, for any other key, the key in words: separators and camelCase become
spaces, a trailing unit becomes "(unit)", abbreviations such as ID stay upper case, and
only the first word is capitalised ("PATIENT_DATE_OF_BIRTH" → "Patient date of birth").
"""

from __future__ import annotations

import re

# Keys with a label of their own (the words people use, the unit where there is one).
KNOWN: dict[str, str] = {
    "accession_number": "Accession number",
    "referring_physician": "Referring physician",
    "weight_kg": "Weight (kg)",
    "weight_lb": "Weight (lb)",
    "height_cm": "Height (cm)",
    "height_in": "Height (in)",
    "bmi": "BMI",
    "mrn": "MRN",
    "dob": "Date of birth",
    "date_of_birth": "Date of birth",
    "gender": "Sex",
    "identifier": "Patient ID",
    "patient_id": "Patient ID",
    "gestational_age_weeks": "Gestational age (weeks)",
    "heart_rate_bpm": "Heart rate (bpm)",
    "blood_pressure_mmhg": "Blood pressure (mmHg)",
    "animal_type": "Species",
}

# A trailing word that is a unit, and how the unit is written.
UNITS: dict[str, str] = {
    "kg": "kg",
    "g": "g",
    "lb": "lb",
    "lbs": "lb",
    "cm": "cm",
    "mm": "mm",
    "m": "m",
    "ml": "mL",
    "bpm": "bpm",
    "mmhg": "mmHg",
    "ms": "ms",
    "s": "s",
    "sec": "s",
    "min": "min",
    "hz": "Hz",
    "mhz": "MHz",
    "db": "dB",
    "pct": "%",
    "percent": "%",
    "weeks": "weeks",
    "days": "days",
    "years": "years",
}

# Words written in capitals however the key spells them.
ABBREVIATIONS = {
    "id",
    "mrn",
    "bmi",
    "dicom",
    "cpt",
    "icd",
    "uuid",
    "url",
    "api",
    "pdf",
    "ecg",
    "ekg",
    "hr",
    "bp",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_\-.]+")


def _words(key: str) -> list[str]:
    return [word for word in _SEPARATORS.split(_CAMEL.sub(" ", key)) if word]


def field_label(key) -> str:
    """The label people read for the data key ``key`` ("weight_kg" → "Weight (kg)")."""
    text = str(key if key is not None else "").strip()
    if not text:
        return "(unnamed)"
    words = _words(text)
    normalised = "_".join(word.lower() for word in words)
    if normalised in KNOWN:
        return KNOWN[normalised]
    if not words:
        return text  # only punctuation: show it as sent
    unit = ""
    if len(words) > 1 and words[-1].lower() in UNITS:
        unit = UNITS[words.pop().lower()]
    shown = []
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in ABBREVIATIONS:
            shown.append(lower.upper())
        elif word.isupper() and len(word) > 1 and not text.isupper():
            shown.append(word)  # an abbreviation the sender wrote in capitals ("ECGLead")
        elif index == 0:
            shown.append(lower[:1].upper() + lower[1:])
        else:
            shown.append(lower)
    label = " ".join(shown)
    return f"{label} ({unit})" if unit else label
