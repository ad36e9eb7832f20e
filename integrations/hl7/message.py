"""The HL7 v2.5.1 ORU^R01 of one report transmission, and the escaping it needs.

What is sent, segment by segment (README.md has the full table): MSH, PID, PV1, ORC,
OBR (accession, exam type, observation time, result status P/F/C), then OBX lines: the
interpretation as FT (indication, findings, impression, each addendum of a corrected
result), each worksheet answer where it maps (NM with units, CE for choices and yes/no,
ST or FT for text), and the report PDF as ED (Base64) unless the destination turns it off.

The text is written here and then parsed back by hl7apy, strictly, as a 2.5.1 ORU^R01
(structure, required fields, datatypes, lengths) before it may leave: a message the
library rejects is never sent. hl7apy's own serialiser is not used for the values
because its escaping is heuristic: it leaves a literal ``\\F\\`` typed by a person
unescaped (the receiver reads a ``|``), turns ``\\.br\\`` into ``\\E\\.br\\E\\``, and splits
a value assigned as a string at ``^`` and ``&``. ``escape``/``unescape`` are the one
place the HL7 escape rules live; the listener and the tests read values with
``unescape``.
"""

from __future__ import annotations

import base64
import re
import uuid
import zoneinfo
from datetime import date, datetime

from django.utils import timezone
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from portal import storage
from portal.exams.models import sex_of
from portal.worksheets.engine import Worksheet

VERSION = "2.5.1"
DEFAULT_SENDING_APP = "CLARIUSPORTAL"
CONTROL_ID_LENGTH = 20  # MSH-10 is at most 20 characters in 2.5.1
# The 2.5.1 lengths, which hl7apy's strict check holds values to (escaped, as sent): a
# string component (ST: names, identifiers, code texts, short answers) 199 characters;
# a namespace (IS: the application and facility of HD, an EI's namespace) 20; text
# (FT, TX) 65,536. A longer value is cut at the limit (never inside an escape sequence);
# a text answer that does not fit an ST goes as FT.
ST_LIMIT = 199
IS_LIMIT = 20
TEXT_LIMIT = 65536

# Report sections, coded as the HL7 CDA diagnostic imaging report codes them (LOINC).
INDICATION = ("18785-6", "Reason for study", "LN")
FINDINGS = ("18782-3", "Findings", "LN")
IMPRESSION = ("19005-8", "Impression", "LN")
ADDENDUM = ("55107-7", "Addendum", "LN")
PDF = ("18748-4", "Diagnostic imaging study", "LN")

SEGMENT_END = "\r"
# HL7 delimiters as MSH-1/MSH-2 declare them: field, component, repetition, escape,
# subcomponent.
ENCODING = "^~\\&"
_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
_UNESCAPES = {"E": "\\", "F": "|", "S": "^", "T": "&", "R": "~", ".br": "\n"}
# Control characters other than the line break have no place in a value (a CR would end
# the segment); they are dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MessageInvalid(ValueError):
    """hl7apy rejected the message we made (a bug here, never the receiver's fault)."""


def escape(value, *, line_breaks: bool = False, limit: int = ST_LIMIT) -> str:
    """``value`` as HL7 text: each delimiter as its escape sequence (``\\`` first, so an
    escape sequence a person typed arrives as typed). With ``line_breaks`` (FT), each
    line break is ``\\.br\\``; otherwise line breaks become spaces. At most ``limit``
    characters as sent."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out, size = [], 0
    for ch in text:
        piece = ("\\.br\\" if line_breaks else " ") if ch == "\n" else _ESCAPES.get(ch, ch)
        if size + len(piece) > limit:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def unescape(value: str) -> str:
    """The text an escaped HL7 value stands for (``\\.br\\`` read as a line break)."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            end = value.find("\\", i + 1)
            if end > i and value[i + 1 : end] in _UNESCAPES:
                out.append(_UNESCAPES[value[i + 1 : end]])
                i = end + 1
                continue
        out.append(value[i])
        i += 1
    return "".join(out)


def ts(value: datetime | date | None, zone: str = "UTC") -> str:
    """An HL7 TS: ``YYYYMMDDHHMMSS+ZZZZ`` in the institution's zone, or ``YYYYMMDD``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = timezone.localtime(value, zoneinfo.ZoneInfo(zone or "UTC"))
        return local.strftime("%Y%m%d%H%M%S%z")
    return value.strftime("%Y%m%d")


def sex(gender: str) -> str:
    """HL7 table 0001 by the portal's one rule (``portal.exams.models.sex_of``)."""
    return {"male": "M", "female": "F", "other": "O"}.get(sex_of(gender), "U")


def control_id(transmission) -> str:
    """MSH-10, stable per transmission: made on the first attempt and kept on the row
    (``transmission.uid``), so every retry and resend of the same report version carries
    the same ID and a receiver that checks for duplicates recognises a message whose
    acknowledgement was lost. A new report version is a new transmission: a new ID."""
    if not transmission.uid:
        transmission.uid = uuid.uuid4().hex[:CONTROL_ID_LENGTH].upper()
    return transmission.uid


def _segment(name: str, *fields: str) -> str:
    values = list(fields)
    while values and values[-1] == "":
        values.pop()
    return "|".join([name, *values])


def _ce(code: str, text: str, system: str) -> str:
    return "^".join([escape(code), escape(text), escape(system)])


def _person(user) -> tuple[str, str]:
    """(family, given) of a portal user: the last word of the full name is taken as the
    family name (the portal keeps one name field); the email when there is no name."""
    if user is None:
        return "", ""
    words = (getattr(user, "full_name", "") or "").split()
    if not words:
        return getattr(user, "email", "") or "", ""
    return words[-1], " ".join(words[:-1])


def _interpreter(user) -> str:
    """An NDL whose first component is a CNN (ID & family & given): subcomponents."""
    if user is None:
        return ""
    last, first = _person(user)
    return "&".join([escape(user.pk), escape(last), escape(first)])


def msh(
    *,
    sending_app,
    sending_facility,
    receiving_app,
    receiving_facility,
    when,
    ctrl_id,
    message_type="ORU^R01^ORU_R01",
    processing_id="P",
) -> str:
    return _segment(
        "MSH",
        ENCODING,
        escape(sending_app, limit=IS_LIMIT),
        escape(sending_facility, limit=IS_LIMIT),
        escape(receiving_app, limit=IS_LIMIT),
        escape(receiving_facility, limit=IS_LIMIT),
        when,
        "",
        message_type,
        escape(ctrl_id),
        processing_id,
        VERSION,
        "",
        "",
        "",
        "",
        "",
        "UNICODE UTF-8",  # MSH-18: so names and findings in any script arrive intact
    )


def pid(patient, *, fallback_id: str, assigning_authority: str) -> str:
    """PID-3 is required: an exam without a medical record number is identified by the
    portal's exam UUID, marked as such (identifier type PI, assigned by the sender)."""
    if patient is not None and patient.identifier:
        identifier = "^".join([escape(patient.identifier), "", "", "", "MR"])
    else:
        identifier = "^".join(
            [escape(fallback_id), "", "", escape(assigning_authority, limit=IS_LIMIT), "PI"]
        )
    if patient is None:
        return _segment("PID", "1", "", identifier, "", "")
    if patient.is_animal:
        name = "^".join([escape(patient.animal_name), ""])
    else:
        name = "^".join(
            [escape(patient.last_name), escape(patient.first_name), escape(patient.middle_name)]
        )
    return _segment(
        "PID",
        "1",
        "",
        identifier,
        "",
        name,
        "",
        ts(patient.date_of_birth),
        sex(patient.gender) if patient.gender else "",
    )


def build(transmission, *, include_pdf: bool = True) -> str:
    """The ORU^R01 of a report transmission, as ER7 text (segments end with CR).

    Sets ``transmission.uid`` to its message control ID. Raises ``MessageInvalid`` when
    hl7apy does not accept it strictly as a 2.5.1 ORU^R01.
    """
    destination = transmission.destination
    exam = transmission.exam
    institution = exam.institution
    report = transmission.report
    zone = institution.time_zone or "UTC"
    findings = getattr(exam, "findings", None)
    patient = getattr(exam, "patient", None)
    status = transmission.result_status or "F"
    sending_app = destination.option("sending_app") or DEFAULT_SENDING_APP
    sending_facility = destination.option("sending_facility") or institution.name
    ctrl_id = control_id(transmission)
    observed = ts(exam.first_submitted_at, zone)
    accession = escape((patient.extra or {}).get("accession_number", "") if patient else "")
    # The accession number names the order on both sides when there is one; without it
    # the exam's UUID is the filler's (our) number for it.
    namespace = escape(sending_app, limit=IS_LIMIT)
    placer = f"{accession}^{namespace}" if accession else ""
    filler = f"{accession or escape(exam.exam_uuid)}^{namespace}"
    exam_type = exam.exam_type
    service = (
        _ce(exam_type.code, exam_type.name, "L")
        if exam_type
        else _ce("POCUS", "Point-of-care ultrasound", "L")
    )
    signer = findings.signed_by if findings else None
    attester = findings.attested_by if findings and findings.is_attested else None
    principal = _interpreter(attester or signer)
    assistant = _interpreter(signer) if attester and signer else ""
    reported = ts(report.created_at if report else timezone.now(), zone)

    segments = [
        msh(
            sending_app=sending_app,
            sending_facility=sending_facility,
            receiving_app=destination.option("receiving_app") or "",
            receiving_facility=destination.option("receiving_facility") or "",
            when=ts(timezone.now(), zone),
            ctrl_id=ctrl_id,
        ),
        pid(patient, fallback_id=str(exam.exam_uuid), assigning_authority=sending_app),
        _segment("PV1", "1", "U"),  # patient class unknown: the portal is not told it
        # ORC-1 RE: observations to follow (an unsolicited result).
        _segment("ORC", "RE", placer, filler),
        _segment(
            "OBR",
            "1",
            placer,
            filler,
            service,
            "",
            "",
            observed,
            *[""] * 14,  # OBR-8 to OBR-21
            reported,  # OBR-22: when this result (version) was made
            "",
            "",
            status,  # OBR-25
            *[""] * 6,  # OBR-26 to OBR-31
            principal,  # OBR-32: who signed (or attested) the interpretation
            assistant,  # OBR-33: the trainee who signed it, once attested
        ),
    ]
    observations = _observations(transmission, findings, status, observed, include_pdf)
    segments += [_segment("OBX", str(n), *fields) for n, fields in enumerate(observations, start=1)]
    text = SEGMENT_END.join(segments) + SEGMENT_END
    check(text)
    return text


def _obx(value_type, identifier, value, *, sub_id="", units="", status="F", observed=""):
    """OBX-2 to OBX-14 (OBX-1, the set ID, is numbered by ``build``)."""
    # OBX-7 reference range, -8 abnormal flags, -9 probability, -10 nature of test are
    # empty; OBX-11 is the result status; -12 and -13 empty; OBX-14 the observation time.
    return [value_type, identifier, sub_id, value, units, "", "", "", "", status, "", "", observed]


def _observations(transmission, findings, status, observed, include_pdf) -> list[list[str]]:
    rows = []
    if findings is not None:
        for code, attr in (
            (INDICATION, "indication"),
            (FINDINGS, "findings"),
            (IMPRESSION, "impression"),
        ):
            text = (getattr(findings, attr) or "").strip()
            if text:
                rows.append(
                    _obx(
                        "FT",
                        _ce(*code),
                        escape(text, line_breaks=True, limit=TEXT_LIMIT),
                        status=status,
                        observed=observed,
                    )
                )
        rows += _answers(findings, status, observed)
    report = transmission.report
    if report is not None and report.addenda_included:
        exam = transmission.exam
        for addendum in exam.addenda.filter(number__lte=report.addenda_included).order_by("number"):
            rows.append(
                _obx(
                    "FT",
                    _ce(*ADDENDUM),
                    escape(addendum.text.strip(), line_breaks=True, limit=TEXT_LIMIT),
                    sub_id=str(addendum.number),
                    status=status,
                    observed=ts(addendum.signed_at, transmission.exam.institution.time_zone),
                )
            )
    if include_pdf and report is not None and report.file:
        data = base64.b64encode(storage.read_bytes(report.file)).decode("ascii")
        # ED: source application ^ type of data ^ subtype ^ encoding ^ data
        rows.append(
            _obx("ED", _ce(*PDF), f"^AP^PDF^Base64^{data}", status=status, observed=observed)
        )
    return rows


def _answers(findings, status, observed) -> list[list[str]]:
    """Each worksheet answer that maps to an HL7 value type, in worksheet order."""
    template = findings.template
    answers = findings.answers or {}
    if template is None or not answers:
        return []
    try:
        sheet = Worksheet(template.definition)
    except ValueError:
        return []
    rows = []
    for code, field in sheet.fields.items():
        if code not in answers:
            continue
        value = answers[code]
        identifier = _ce(code, field.label, "L")
        units = ""
        if (
            field.type == "number"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            value_type, text = "NM", (f"{value:g}" if isinstance(value, float) else str(value))
            units = f"{escape(field.unit)}^{escape(field.unit)}" if field.unit else ""
        elif field.type == "choice":
            value_type, text = "CE", _ce(value, field.choice_label(value), "L")
        elif field.type == "multi" and isinstance(value, list):
            value_type = "CE"
            text = "~".join(_ce(v, field.choice_label(v), "L") for v in value)
        elif field.type == "yesno" and isinstance(value, bool):
            # HL7 table 0136 (yes/no indicator).
            value_type, text = (
                "CE",
                (_ce("Y", "Yes", "HL70136") if value else _ce("N", "No", "HL70136")),
            )
        elif field.type == "text" and isinstance(value, str):
            short = escape(value, limit=TEXT_LIMIT)
            if "\n" in value or len(short) > ST_LIMIT:
                value_type, text = "FT", escape(value, line_breaks=True, limit=TEXT_LIMIT)
            else:
                value_type, text = "ST", short
        else:
            continue  # an answer that does not fit its field's type: not sent as data
        rows.append(
            _obx(value_type, identifier, text, units=units, status=status, observed=observed)
        )
    return rows


PLACEHOLDER = "UERG"  # stands in for long values while hl7apy checks the rest
LONG_TYPES = ("FT", "TX", "ED")


def check(text: str):
    """hl7apy's strict parse of ``text`` as a 2.5.1 ORU^R01; the parsed message.

    hl7apy cannot type OBX-5 by OBX-2 (it holds every value to an ST's 199 characters),
    so the value of a text (FT, TX) or encapsulated (ED) observation is checked here
    (text at most 65,536 characters; the PDF's data Base64) and a stand-in takes its
    place for hl7apy. A PDF's Base64 is longer than the 65,536 characters the 2.5.1
    tables give ED.5; later versions drop the limit and interface engines do not hold
    to it. The parsed message holds the stand-ins."""
    segments = text.split(SEGMENT_END)
    for n, segment in enumerate(segments):
        fields = segment.split("|")
        if fields[0] != "OBX" or len(fields) < 6 or fields[2] not in LONG_TYPES:
            continue
        value = fields[5]
        if fields[2] == "ED":
            parts = value.split("^")
            if len(parts) != 5 or parts[3] != "Base64":
                raise MessageInvalid(f"OBX {fields[1]}: an ED value is ^AP^PDF^Base64^data")
            try:
                base64.b64decode(parts[4], validate=True)
            except ValueError as e:
                raise MessageInvalid(f"OBX {fields[1]}: the data is not Base64: {e}") from e
            fields[5] = "^".join([*parts[:4], PLACEHOLDER])
        else:
            if len(value) > TEXT_LIMIT:
                raise MessageInvalid(f"OBX {fields[1]}: text over {TEXT_LIMIT} characters")
            fields[5] = PLACEHOLDER
        segments[n] = "|".join(fields)
    try:
        message = parse_message(
            SEGMENT_END.join(segments),
            validation_level=VALIDATION_LEVEL.STRICT,
            find_groups=True,
            force_validation=True,
        )
    except Exception as e:  # noqa: BLE001 - hl7apy raises many kinds; all mean "not valid"
        raise MessageInvalid(f"{type(e).__name__}: {str(e)[:300]}") from e
    if message.name != "ORU_R01" or message.version != VERSION:
        raise MessageInvalid(f"parsed as {message.name} {message.version}")
    return message
