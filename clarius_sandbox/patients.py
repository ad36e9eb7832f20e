"""Made-up patients in the shape of the exam data ``patient`` object (reference §4).

The vendor says any field may be absent and unknown fields may appear, so the sandbox
does both on purpose: a portal that only works with complete records fails here first.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

FIRST_NAMES = ["Ada", "Noah", "Maya", "Liam", "Sofia", "Omar", "Lea", "Ivan", "Zoe", "Kenji"]
MIDDLE_NAMES = ["Rose", "James", "Marie", "Lee", "Ann"]
LAST_NAMES = ["Okafor", "Novak", "Lindqvist", "Moreau", "Tanaka", "Rossi", "Haddad", "Walsh"]
ANIMAL_NAMES = ["Biscuit", "Luna", "Rex", "Mochi", "Pepper", "Thunder", "Daisy"]
ANIMAL_TYPES = ["Canine", "Feline", "Equine", "Bovine", "Ovine"]
GENDERS = ["male", "female", "other"]
# Fields the portal was never told about; it must keep working (and may keep them raw).
EXTRA_FIELDS: dict[str, list[Any]] = {
    "weight_kg": [4.2, 31.5, 68.0, 82.3],
    "referring_physician": ["Dr. Imani Cole", "Dr. Piotr Zielinski"],
    "accession_number": ["ACC-20931", "ACC-77120"],
}


def make_patient(rng: random.Random, animal: bool) -> dict[str, Any]:
    """A patient dict; each optional field is left out now and then."""
    patient: dict[str, Any] = {}

    def maybe(key: str, value: Any, chance: float = 0.85) -> None:
        if rng.random() < chance:
            patient[key] = value

    maybe("identifier", f"{'VET' if animal else 'MRN'}-{rng.randrange(10**5):05d}", 0.9)
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30000))
    if animal:
        birth = dt.date.today() - dt.timedelta(days=rng.randrange(200, 6000))
    maybe("date_of_birth", birth.isoformat())
    maybe("gender", rng.choice(GENDERS), 0.75)
    if animal:
        maybe("animal_name", rng.choice(ANIMAL_NAMES), 0.9)
        maybe("animal_type", rng.choice(ANIMAL_TYPES))
        maybe("owner_name", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", 0.7)
    else:
        maybe("first_name", rng.choice(FIRST_NAMES), 0.9)
        maybe("middle_name", rng.choice(MIDDLE_NAMES), 0.35)
        maybe("last_name", rng.choice(LAST_NAMES), 0.9)
    if rng.random() < 0.25:
        key = rng.choice(sorted(EXTRA_FIELDS))
        patient[key] = rng.choice(EXTRA_FIELDS[key])
    if animal and not patient.keys() & {"animal_name", "animal_type", "owner_name"}:
        # Only the animal fields tell an animal from a human: one of them is always there.
        patient["animal_type"] = rng.choice(ANIMAL_TYPES)
    return patient


def display_name(patient: dict[str, Any]) -> str:
    """How a scanner would label the patient; empty when no name field is present."""
    if "animal_name" in patient:
        return str(patient["animal_name"])
    parts = [patient.get(k) for k in ("first_name", "middle_name", "last_name")]
    return " ".join(str(p) for p in parts if p)
