"""Vendor-side reference data: exam applications (presets) and probe models.

Application UUIDs are derived from the names so they are stable across restarts,
machines and test runs, like the real ones.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://sandbox.invalid/clarius/applications")

APPLICATION_NAMES = [
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
]

APPLICATIONS: list[dict[str, str]] = [
    {"uuid": str(uuid.uuid5(_NAMESPACE, name)), "name": name} for name in APPLICATION_NAMES
]
APPLICATIONS_BY_UUID = {app["uuid"]: app for app in APPLICATIONS}

# (model as written in raw data, centre frequency in MHz) — the HD3 scanner family.
PROBES = [
    ("C3HD3", 3.5),
    ("C7HD3", 6.0),
    ("L7HD3", 7.5),
    ("L15HD3", 10.0),
    ("PA HD3", 3.0),
    ("EC7HD3", 6.0),
]
