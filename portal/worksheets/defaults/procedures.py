"""Ultrasound-guided procedures: vascular access, nerve blocks, paracentesis and
thoracentesis. Their "normal" is an uncomplicated procedure under real-time guidance;
their views are the images the guidance codes ask to be kept."""

from portal.worksheets.defaults.fields import (
    SIDES,
    choice,
    exam_type,
    impression,
    indications,
    multi,
    number,
    rule,
    section,
    text,
    view,
    yesno,
)


def _not_done(field: str, sentence: str) -> dict:
    """The rule for a step the normal procedure includes, answered "no"."""
    return rule(field, sentence, equals=False)


def _complications(code_label_pairs) -> dict:
    return choice(
        "complications",
        "Immediate complications",
        [["none", "None"], *code_label_pairs, ["other", "Other (see notes)"]],
        "none",
        required=True,
    )


def _complication_rules(code_label_pairs) -> list[dict]:
    return [
        *[
            rule("complications", f"Complication: {label[0].lower()}{label[1:]}.", equals=code)
            for code, label in code_label_pairs
        ],
        rule("complications", "Complication: see the notes.", equals="other"),
    ]


VASCULAR_COMPLICATIONS = [
    ["arterial_puncture", "Arterial puncture"],
    ["haematoma", "Haematoma"],
    ["pneumothorax", "Pneumothorax"],
]

VASCULAR_ACCESS = exam_type(
    "vascular_access",
    "Ultrasound-guided vascular access",
    # Vascular is left unclaimed: the same preset serves DVT exams.
    applications=[],
    cpt=["76937"],
    sections=[
        indications(
            "Central venous access",
            "Difficult peripheral venous access",
            "Arterial line",
            "Midline or PICC",
        ),
        section(
            "procedure",
            "Procedure",
            choice(
                "vessel",
                "Vessel",
                [
                    ["internal_jugular", "Internal jugular vein"],
                    ["subclavian", "Subclavian vein"],
                    ["axillary", "Axillary vein"],
                    ["femoral_vein", "Femoral vein"],
                    ["basilic", "Basilic vein"],
                    ["brachial_vein", "Brachial vein"],
                    ["cephalic", "Cephalic vein"],
                    ["other_vein", "Other peripheral vein"],
                    ["radial_artery", "Radial artery"],
                    ["femoral_artery", "Femoral artery"],
                    ["brachial_artery", "Brachial artery"],
                ],
                required=True,
            ),
            choice("side", "Side", SIDES, required=True),
            choice(
                "device",
                "Device",
                [
                    ["central", "Central venous catheter"],
                    ["peripheral", "Peripheral IV"],
                    ["midline", "Midline"],
                    ["picc", "PICC"],
                    ["arterial", "Arterial line"],
                    ["introducer", "Introducer sheath"],
                ],
            ),
            choice(
                "approach",
                "Approach",
                [
                    ["short_axis", "Short axis (out of plane)"],
                    ["long_axis", "Long axis (in plane)"],
                    ["oblique", "Oblique"],
                ],
            ),
            yesno(
                "patent",
                "Vessel patent and compressible (checked before puncture)",
                True,
                required=True,
            ),
            yesno("real_time", "Real-time (dynamic) guidance", True, required=True),
            yesno("needle_seen", "Needle tip seen entering the vessel", True, required=True),
            yesno("wire_seen", "Guidewire seen in the vessel", True),
            number("attempts", "Skin punctures", "", 1, 20),
        ),
        section(
            "outcome",
            "Outcome",
            _complications(VASCULAR_COMPLICATIONS),
            text("notes", "Notes", max_length=1000),
        ),
    ],
    views=[
        view("vessel_patent", "Target vessel, patent and compressible"),
        view("needle_in_vessel", "Needle or guidewire in the vessel"),
    ],
    impression=impression(
        _not_done("patent", "Vessel patency not confirmed before puncture."),
        _not_done("real_time", "Static guidance only (site marked), not real time."),
        _not_done("needle_seen", "Needle tip not seen entering the vessel."),
        _not_done("wire_seen", "Guidewire not seen in the vessel."),
        rule("attempts", "More than one skin puncture.", gt=1),
        _complication_rules(VASCULAR_COMPLICATIONS),
        otherwise="Ultrasound-guided vascular access: patent vessel, real-time guidance with "
        "the needle seen entering the vessel; no immediate complication.",
    ),
)

BLOCK_COMPLICATIONS = [
    ["vascular_puncture", "Vascular puncture"],
    ["paraesthesia", "Paraesthesia on injection"],
    ["last", "Signs of local anaesthetic systemic toxicity"],
]

NERVE_BLOCK = exam_type(
    "nerve_block",
    "Ultrasound-guided nerve block",
    applications=["Nerve"],
    cpt=["76942"],
    sections=[
        indications(
            "Hip fracture analgesia",
            "Rib fracture analgesia",
            "Procedural anaesthesia",
            "Extremity injury analgesia",
        ),
        section(
            "procedure",
            "Procedure",
            choice(
                "block",
                "Block",
                [
                    ["femoral", "Femoral nerve"],
                    ["fascia_iliaca", "Fascia iliaca"],
                    ["peng", "Pericapsular nerve group (PENG)"],
                    ["interscalene", "Interscalene brachial plexus"],
                    ["supraclavicular", "Supraclavicular brachial plexus"],
                    ["axillary", "Axillary brachial plexus"],
                    ["forearm", "Forearm (radial, median or ulnar)"],
                    ["serratus", "Serratus anterior plane"],
                    ["esp", "Erector spinae plane"],
                    ["popliteal_sciatic", "Popliteal sciatic"],
                    ["tap", "Transversus abdominis plane"],
                    ["other", "Other"],
                ],
                required=True,
            ),
            choice("side", "Side", SIDES, required=True),
            text(
                "anaesthetic", "Local anaesthetic and concentration", required=True, max_length=200
            ),
            number("volume", "Volume injected", "mL", 0, 100, required=True),
            choice(
                "approach",
                "Needle approach",
                [["in_plane", "In plane"], ["out_of_plane", "Out of plane"]],
            ),
            yesno("aspiration", "Negative aspiration before injection", True),
            yesno("needle_seen", "Needle tip seen throughout", True, required=True),
            yesno("spread", "Spread around the nerve or in the plane seen", True, required=True),
        ),
        section(
            "outcome",
            "Outcome",
            _complications(BLOCK_COMPLICATIONS),
            text("notes", "Notes", max_length=1000),
        ),
    ],
    views=[
        view("target", "Target nerve or plane before injection"),
        view("spread", "Needle and local anaesthetic spread"),
    ],
    impression=impression(
        _not_done("aspiration", "Aspiration before injection not negative."),
        _not_done("needle_seen", "Needle tip not seen throughout."),
        _not_done("spread", "Spread of local anaesthetic around the target not seen."),
        _complication_rules(BLOCK_COMPLICATIONS),
        otherwise="Ultrasound-guided nerve block: needle tip seen throughout and local "
        "anaesthetic spread seen around the target; no immediate complication.",
    ),
)

FLUID = [
    ["clear", "Clear or straw-coloured"],
    ["cloudy", "Cloudy"],
    ["bloody", "Bloody"],
    ["milky", "Milky (chylous)"],
]


def _drainage_fields(fluid_max: int) -> list[dict]:
    """What a paracentesis and a thoracentesis both record."""
    return [
        number("pocket_depth", "Deepest fluid pocket at the site", "cm", 0, 30),
        yesno("site_marked", "Site marked with ultrasound", True, required=True),
        yesno("real_time", "Real-time (dynamic) needle guidance", True, required=True),
        number("fluid_removed", "Fluid removed", "mL", 0, fluid_max),
        choice("fluid", "Fluid appearance", FLUID, "clear"),
    ]


def _drainage_rules(fluid_cloudy: str, shallow_cm: int) -> list[dict]:
    """``shallow_cm``: the depth under which the impression notes a shallow pocket."""
    return [
        rule("pocket_depth", f"Fluid pocket under {shallow_cm} cm at the site.", lt=shallow_cm),
        _not_done("site_marked", "Site not marked with ultrasound."),
        _not_done("real_time", "Needle not followed in real time."),
        rule("fluid", fluid_cloudy, equals="cloudy"),
        rule("fluid", "Bloody fluid.", equals="bloody"),
        rule("fluid", "Milky (chylous) fluid.", equals="milky"),
    ]


PARACENTESIS_COMPLICATIONS = [
    ["bleeding", "Bleeding"],
    ["bowel", "Bowel puncture"],
    ["leak", "Persistent leak"],
    ["hypotension", "Hypotension"],
]

PARACENTESIS = exam_type(
    "paracentesis",
    "Ultrasound-guided paracentesis",
    applications=[],
    # 49083 includes the imaging guidance (76942 is not added to it).
    cpt=["49083"],
    sections=[
        indications("Diagnostic", "Therapeutic (large volume)"),
        section(
            "procedure",
            "Procedure",
            choice(
                "site",
                "Site",
                [
                    ["rlq", "Right lower quadrant"],
                    ["llq", "Left lower quadrant"],
                    ["other", "Other"],
                ],
                required=True,
            ),
            *_drainage_fields(20000),
            yesno("vessels_avoided", "Inferior epigastric vessels seen and avoided", True),
        ),
        section(
            "outcome",
            "Outcome",
            _complications(PARACENTESIS_COMPLICATIONS),
            multi(
                "samples",
                "Samples sent",
                [
                    ["cell_count", "Cell count"],
                    ["culture", "Culture"],
                    ["chemistry", "Chemistry"],
                    ["cytology", "Cytology"],
                ],
            ),
            text("notes", "Notes", max_length=1000),
        ),
    ],
    views=[
        view("pocket", "Fluid pocket at the chosen site"),
        view("needle", "Needle in the fluid", required=False),
    ],
    impression=impression(
        _drainage_rules("Cloudy fluid: consider peritonitis.", 2),
        _not_done("vessels_avoided", "Inferior epigastric vessels not identified."),
        _complication_rules(PARACENTESIS_COMPLICATIONS),
        otherwise="Ultrasound-guided paracentesis: site marked and needle guided in real "
        "time; no immediate complication.",
    ),
)

THORACENTESIS_COMPLICATIONS = [
    ["pneumothorax", "Pneumothorax"],
    ["bleeding", "Bleeding"],
    ["reexpansion", "Re-expansion pulmonary oedema"],
    ["vasovagal", "Vasovagal reaction"],
]

THORACENTESIS = exam_type(
    "thoracentesis",
    "Ultrasound-guided thoracentesis",
    applications=[],
    # 32555 includes the imaging guidance.
    cpt=["32555"],
    sections=[
        indications("Diagnostic", "Therapeutic (symptomatic effusion)"),
        section(
            "procedure",
            "Procedure",
            choice("side", "Side", SIDES, required=True),
            choice(
                "site",
                "Site",
                [
                    ["posterior", "Posterior"],
                    ["posterolateral", "Posterolateral"],
                    ["midaxillary", "Mid-axillary"],
                ],
            ),
            yesno(
                "diaphragm_seen", "Diaphragm and the organ below it identified", True, required=True
            ),
            *_drainage_fields(5000),
        ),
        section(
            "outcome",
            "Outcome",
            _complications(THORACENTESIS_COMPLICATIONS),
            choice(
                "sliding_after",
                "Lung sliding after the procedure",
                [["present", "Present"], ["absent", "Absent"]],
                "present",
            ),
            text("notes", "Notes", max_length=1000),
        ),
    ],
    views=[
        view("pocket", "Effusion at the chosen site, with the diaphragm"),
        view("sliding_after", "Lung sliding after the procedure", required=False),
    ],
    impression=impression(
        _not_done("diaphragm_seen", "Diaphragm not identified before puncture."),
        _drainage_rules("Cloudy fluid: consider empyema.", 1),
        _complication_rules(THORACENTESIS_COMPLICATIONS),
        rule(
            "sliding_after",
            "Lung sliding absent after the procedure: pneumothorax not excluded.",
            equals="absent",
        ),
        otherwise="Ultrasound-guided thoracentesis: diaphragm identified, site marked and "
        "needle guided in real time; no immediate complication.",
    ),
)

TYPES = [VASCULAR_ACCESS, NERVE_BLOCK, PARACENTESIS, THORACENTESIS]
