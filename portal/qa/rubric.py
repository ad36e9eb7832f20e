"""The QA rubric: what a QA reviewer scores, and the one rule of what passes.

Image quality is the ACEP global scale (Emergency Ultrasound Standard Reporting
Guidelines, 2018): each level's definition is shown beside it, so reviewers score the same
thing. Interpretation accuracy judges the read the operator signed against the images.
An institution adds its own questions per exam type (``ExamTypeQA.questions``).
"""

from __future__ import annotations

QUALITY_LEVELS = [
    (
        1,
        "No recognisable structures",
        "No recognisable structures; no objective data can be gathered.",
    ),
    (
        2,
        "Minimally recognisable",
        "Minimally recognisable structures, but insufficient for diagnosis.",
    ),
    (
        3,
        "Minimal criteria met",
        "Minimal criteria met for diagnosis; all structures imaged well enough for diagnosis.",
    ),
    (
        4,
        "Criteria met, minor flaws",
        "Minimal criteria met for diagnosis; all structures imaged well, diagnosis easily "
        "supported.",
    ),
    (
        5,
        "Excellent",
        "Minimal criteria met for diagnosis; all structures imaged with excellent image "
        "quality, diagnosis completely supported.",
    ),
]
QUALITY_NAMES = {level: name for level, name, _ in QUALITY_LEVELS}
QUALITY_DEFINITIONS = {level: definition for level, _, definition in QUALITY_LEVELS}
# The lowest score good enough for diagnosis (ACEP: 3, "minimal criteria met").
PASSING_QUALITY = 3

AGREE = "agree"
FALSE_POSITIVE = "false_positive"
FALSE_NEGATIVE = "false_negative"
OTHER = "other"
INTERPRETATIONS = [
    (AGREE, "Agree with the interpretation"),
    (FALSE_POSITIVE, "Disagree: false positive"),
    (FALSE_NEGATIVE, "Disagree: false negative"),
    (OTHER, "Disagree: other"),
]
INTERPRETATION_LABELS = dict(INTERPRETATIONS)


def passes(image_quality: int | None, interpretation: str) -> bool:
    """A QA-passed exam, the kind credentialing counts: images good enough for diagnosis
    and a read the reviewer agrees with. The one place this rule lives."""
    return (
        image_quality is not None and image_quality >= PASSING_QUALITY and interpretation == AGREE
    )
