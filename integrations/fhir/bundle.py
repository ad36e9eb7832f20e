"""An exam as a FHIR R4 Bundle: Patient, ImagingStudy, DiagnosticReport, Observations.

The resources are plain dicts built here from what the portal holds, then checked with
``fhir.resources`` (``validate``). The library's R4 models (5.x) are pydantic-1 only, so
the check uses its R4B models (4.3.0), the nearest it ships; every element written here
exists in R4 (4.0.1) with the same name, type and cardinality, so the JSON is R4.

- **Patient**: the MRN Clarius sent (type MR), the portal's own identifier of the
  exam's patient, name, birth date, administrative gender.
- **ImagingStudy**: identified by the Study Instance UID (``urn:dicom:uid``), with one
  series per kind of object and one instance per image, clip and report version, the
  UIDs and SOP classes of the DICOM objects the portal sends (``portal.outbound.uids``),
  so the EHR's study and the PACS's study are the same one.
- **DiagnosticReport**: the interpretation (``conclusion``), the report PDF
  (``presentedForm``), its status as the IHE imaging DiagnosticReport profile has it:
  ``preliminary`` while a trainee's reading awaits attestation, ``amended`` once an
  addendum or a replacing version exists, ``final`` otherwise.
- **Observation**: one per structured worksheet answer, referenced from
  ``DiagnosticReport.result``: numbers as ``valueQuantity`` (UCUM where the unit is one),
  a choice as ``valueCodeableConcept``, yes/no as ``valueBoolean``, several choices and
  text as ``valueString``.

Every entry's ``fullUrl`` is ``urn:uuid:`` + a UUID5 of the exam's UUID and the
resource's name, the same every time, so two bundles of one exam name the same things.
``collection`` is what ``GET /api/v1/exams/<id>/fhir`` answers; ``transaction`` is what
the FHIR destination POSTs (see ``request_of`` for how resending updates instead of
adding).
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from portal.exams.captures import shown
from portal.exams.models import Capture, Exam, sex_of
from portal.outbound import uids
from portal.tenants.timezones import zone_of
from portal.text import clean_text

FHIR_VERSION = "4.0.1"
CONTENT_TYPE = "application/fhir+json"

# DICOM SOP classes of the objects the portal makes (integrations/dicom).
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"  # Ultrasound Image Storage
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"  # Encapsulated PDF Storage

DCM = "http://dicom.nema.org/resources/ontology/DCM"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
URI = "urn:ietf:rfc:3986"  # an identifier whose value is a URI (here urn:uuid:…)
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service sections
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# Exam type code → LOINC (code, display), only where one names the same exam; the
# others are coded as text (the exam type's name). An institution's own types have
# their own codes, so these only match the defaults (portal.worksheets.defaults).
LOINC_BY_EXAM_TYPE = {
    "cardiac": ("34552-0", "2D echocardiogram panel"),
}

# A worksheet's unit → its UCUM code; another unit is kept as text without a system.
UCUM_UNITS = {
    "mm": "mm",
    "cm": "cm",
    "m": "m",
    "ml": "mL",
    "l": "L",
    "%": "%",
    "bpm": "/min",
    "/min": "/min",
    "s": "s",
    "ms": "ms",
    "cm/s": "cm/s",
    "m/s": "m/s",
    "mmhg": "mm[Hg]",
    "g": "g",
    "kg": "kg",
    "cm2": "cm2",
    "cm²": "cm2",
    "weeks": "wk",
    "days": "d",
}

# Result status of a transmission (HL7 v2 OBR-25) → DiagnosticReport.status.
STATUS_OF_RESULT = {"P": "preliminary", "F": "final", "C": "amended"}

TEXT_LIMIT = 10_000  # a string element; the PDF carries the whole report anyway
NAME_LIMIT = 200
# FHIR's code type: no leading, trailing or double whitespace.
CODE = re.compile(r"^[^\s]+( [^\s]+)*$")


# -- identities ---------------------------------------------------------------------------


def resource_uuid(exam, name: str) -> uuid.UUID:
    """The stable UUID of one resource of the exam's bundle (``"patient"``, …)."""
    return uuid.uuid5(exam.exam_uuid, f"fhir:{name}")


def full_url(exam, name: str) -> str:
    return f"urn:uuid:{resource_uuid(exam, name)}"


def _ref(exam, name: str, display: str = "") -> dict:
    out = {"reference": full_url(exam, name)}
    if display:
        out["display"] = display
    return out


def _uri_identifier(exam, name: str) -> dict:
    """The portal's own identifier of a resource: a URI, what conditional updates match."""
    return {"system": URI, "value": full_url(exam, name)}


# -- text ---------------------------------------------------------------------------------


def _text(value, limit: int = TEXT_LIMIT, *, multiline: bool = False) -> str:
    """Outside text as a FHIR string: controls, bidi overrides and lone surrogates out
    (``portal.text``), trimmed, cut to ``limit``; ``""`` when nothing is left."""
    if value is None or isinstance(value, dict | list):
        return ""
    return clean_text(value, max_length=limit, multiline=multiline).strip()


def _code(value) -> str:
    text = _text(value, 200)
    return text if CODE.match(text) else ""


def _instant(moment: datetime | None, exam) -> str:
    """A moment in the institution's zone, to the second, with its offset."""
    if moment is None:
        return ""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(zone_of(exam.institution)).replace(microsecond=0).isoformat()


def _person(user) -> str:
    return _text(user.get_full_name(), NAME_LIMIT) if user is not None else ""


def _system_base(exam) -> str:
    """Where the portal's own code systems are named (an institution's worksheets)."""
    return f"{settings.PORTAL_BASE_URL}/fhir/{exam.institution.slug}"


# -- what the bundle is about ------------------------------------------------------------


def latest_report(exam):
    """The newest report version whose PDF exists (``None`` when none does)."""
    return next((r for r in exam.reports.order_by("-version") if r.has_pdf), None)


def report_status(exam, report) -> str:
    """``preliminary``, ``final`` or ``amended`` for ``report`` as the EHR should file it.

    Preliminary while the exam awaits attestation; amended when the version carries an
    addendum or replaces a version that was already final (one issued at or after the
    signature that made the reading final: the attestation of a trainee's, else the
    first signature); final otherwise."""
    if exam.review_state == Exam.ReviewState.PRELIMINARY:
        return "preliminary"
    if report.addenda_included:
        return "amended"
    findings = getattr(exam, "findings", None) if _has_findings(exam) else None
    final_at = None
    if findings is not None and findings.is_signed:
        final_at = findings.attested_at if findings.signed_as_trainee else findings.signed_at
    earlier = exam.reports.filter(version__lt=report.version, size__isnull=False)
    if final_at is not None:
        earlier = earlier.filter(created_at__gte=final_at)
    return "amended" if earlier.exists() else "final"


def _has_findings(exam) -> bool:
    from portal.reports.models import Findings

    try:
        exam.findings  # noqa: B018 (a one-to-one that may be missing)
    except Findings.DoesNotExist:
        return False
    return True


def _findings(exam):
    return exam.findings if _has_findings(exam) else None


def _captures(exam) -> list[Capture]:
    return list(
        shown(exam.captures.filter(state=Capture.State.DONE)).order_by(
            "submission_id", "position", "pk"
        )
    )


# -- resources ----------------------------------------------------------------------------


def gender_of(text) -> str:
    """FHIR administrative gender by the portal's one rule (``portal.exams.models.sex_of``,
    which the DICOM PatientSex and the HL7 PID-8 read too); ``""`` when nothing was sent."""
    return sex_of(text)


def patient_resource(exam, *, mrn_system: str = "") -> dict:
    patient = getattr(exam, "patient", None) if _has_patient(exam) else None
    resource: dict = {"resourceType": "Patient", "identifier": []}
    if patient is not None and (mrn := _text(patient.identifier, NAME_LIMIT)):
        identifier = {
            "use": "usual",
            "type": {
                "coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}],
                "text": "MRN",
            },
            "value": mrn,
            "assigner": {"display": _text(exam.institution.name, NAME_LIMIT)},
        }
        if mrn_system:
            identifier["system"] = mrn_system
        resource["identifier"].append(identifier)
    resource["identifier"].append({"use": "secondary", **_uri_identifier(exam, "patient")})
    if patient is None:
        return resource
    if patient.is_animal:
        if name := _text(patient.animal_name, NAME_LIMIT):
            resource["name"] = [{"text": name}]
    else:
        name: dict = {"use": "official"}
        if family := _text(patient.last_name, NAME_LIMIT):
            name["family"] = family
        given = [
            g
            for g in (_text(patient.first_name, NAME_LIMIT), _text(patient.middle_name, NAME_LIMIT))
            if g
        ]
        if given:
            name["given"] = given
        if text := _text(patient.display_name, 3 * NAME_LIMIT):
            name["text"] = text
        if len(name) > 1:
            resource["name"] = [name]
    if gender := gender_of(patient.gender):
        resource["gender"] = gender
    if patient.date_of_birth is not None:
        resource["birthDate"] = patient.date_of_birth.isoformat()
    return resource


def _has_patient(exam) -> bool:
    from portal.exams.models import Patient

    try:
        exam.patient  # noqa: B018
    except Patient.DoesNotExist:
        return False
    return True


def _extra(exam, key: str) -> str:
    if not _has_patient(exam):
        return ""
    value = (exam.patient.extra or {}).get(key)
    return _text(value, NAME_LIMIT) if isinstance(value, str | int) else ""


def _sop_class(uid: str) -> dict:
    return {"system": URI, "code": f"urn:oid:{uid}"}


def _series(exam, what: str, modality: str, description: str, instances: list[dict]) -> dict:
    return {
        "uid": uids.series_uid(exam, what),
        "number": uids.series_number(what),
        "modality": {"system": DCM, "code": modality},
        "description": description,
        "numberOfInstances": len(instances),
        "instance": instances,
    }


def _capture_instance(exam, capture, sop_class: str) -> dict:
    return {
        "uid": uids.capture_uid(exam, capture),
        "sopClass": _sop_class(sop_class),
        "number": capture.position + 1,  # the DICOM object's InstanceNumber
    }


def imaging_study_resource(exam, captures, reports) -> dict:
    images = [c for c in captures if c.is_image]
    clips = [c for c in captures if not c.is_image]
    series = []
    if images:
        instances = [_capture_instance(exam, c, US_IMAGE) for c in images]
        series.append(_series(exam, "image", "US", "Images", instances))
    if clips:
        instances = [_capture_instance(exam, c, US_MULTIFRAME) for c in clips]
        series.append(_series(exam, "clip", "US", "Clips", instances))
    if reports:
        instances = [
            {
                "uid": uids.report_uid(exam, r.version),
                "sopClass": _sop_class(ENCAPSULATED_PDF),
                "number": r.version,  # the PDF object's InstanceNumber
                "title": _text(r.name, NAME_LIMIT) or f"Report version {r.version}",
            }
            for r in reports
        ]
        series.append(_series(exam, "report", "DOC", "Report", instances))
    identifiers = [{"system": "urn:dicom:uid", "value": f"urn:oid:{uids.study_uid(exam)}"}]
    if accession := _extra(exam, "accession_number"):
        identifiers.append(
            {
                "type": {
                    "coding": [{"system": V2_0203, "code": "ACSN", "display": "Accession ID"}]
                },
                "value": accession,
            }
        )
    resource = {
        "resourceType": "ImagingStudy",
        "identifier": identifiers,
        "status": "available",
        # The acquisition modalities only (DICOM CID 29): the report's DOC series is not one.
        "modality": [{"system": DCM, "code": "US", "display": "Ultrasound"}],
        "subject": _ref(exam, "patient"),
        "started": _instant(exam.first_submitted_at, exam),
        "numberOfSeries": len(series),
        "numberOfInstances": sum(s["numberOfInstances"] for s in series),
    }
    if referrer := _extra(exam, "referring_physician"):
        resource["referrer"] = {"display": referrer}
    if exam.exam_type_id and (name := _text(exam.exam_type.name, NAME_LIMIT)):
        resource["description"] = name
    if series:
        resource["series"] = series
    return resource


def _exam_type_code(exam) -> dict:
    if exam.exam_type_id is None:
        return {"text": "Point-of-care ultrasound"}
    text = _text(exam.exam_type.name, NAME_LIMIT) or "Point-of-care ultrasound"
    out: dict = {"text": text}
    if loinc := LOINC_BY_EXAM_TYPE.get(exam.exam_type.code):
        out["coding"] = [{"system": LOINC, "code": loinc[0], "display": loinc[1]}]
    return out


def observation_resources(exam, findings, status: str) -> list[tuple[str, dict]]:
    """``[(name, Observation)]``: one per answer of the worksheet the findings were
    signed on, in the worksheet's order; answers of fields it no longer has are left out."""
    if findings is None or not findings.template_id or not findings.answers:
        return []
    from portal.worksheets.engine import DefinitionError, Worksheet

    try:
        sheet = Worksheet(findings.template.definition)
    except DefinitionError:
        return []
    system = f"{_system_base(exam)}/worksheets/{findings.template.exam_type.code}"
    out = []
    for code, field in sheet.fields.items():
        if code not in findings.answers:
            continue
        value = _observation_value(field, findings.answers[code], system)
        if value is None:
            continue
        label = _text(field.label, NAME_LIMIT) or code
        name = f"observation:{code}"
        resource = {
            "resourceType": "Observation",
            "identifier": [_uri_identifier(exam, name)],
            "status": status,
            "category": [
                {
                    "coding": [
                        {"system": OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}
                    ]
                }
            ],
            "code": {"coding": [{"system": system, "code": code, "display": label}], "text": label},
            "subject": _ref(exam, "patient"),
            "effectiveDateTime": _instant(exam.first_submitted_at, exam),
            "derivedFrom": [_ref(exam, "imaging-study")],
            **value,
        }
        if issued := _instant(findings.signed_at, exam):
            resource["issued"] = issued
        out.append((name, resource))
    return out


def _observation_value(field, value, system: str) -> dict | None:
    if field.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        quantity: dict = {"value": value}
        unit = _text(field.unit, 40)
        if unit:
            quantity["unit"] = unit
            if ucum := UCUM_UNITS.get(unit.lower()):
                quantity.update(system=UCUM, code=ucum)
        return {"valueQuantity": quantity}
    if field.type == "yesno":
        return {"valueBoolean": value} if isinstance(value, bool) else None
    if field.type == "choice":
        label = _text(field.choice_label(value), NAME_LIMIT)
        concept: dict = {"text": label}
        if code := _code(value):
            concept["coding"] = [
                {"system": f"{system}/{field.code}", "code": code, "display": label}
            ]
        return {"valueCodeableConcept": concept} if label else None
    if field.type == "multi" and isinstance(value, list):
        text = _text(field.display(value))
        return {"valueString": text} if text else None
    text = _text(value, multiline=True)
    return {"valueString": text} if text else None


def diagnostic_report_resource(
    exam, report, status: str, findings, observations, pdf: bytes | None
) -> dict:
    resource = {
        "resourceType": "DiagnosticReport",
        "identifier": [_uri_identifier(exam, "diagnostic-report")],
        "status": status,
        "category": [
            {
                "coding": [
                    {"system": V2_0074, "code": "RAD", "display": "Radiology"},
                    {"system": LOINC, "code": "LP29684-5", "display": "Radiology"},
                ],
                "text": "Imaging",
            }
        ],
        "code": _exam_type_code(exam),
        "subject": _ref(exam, "patient"),
        "effectiveDateTime": _instant(exam.first_submitted_at, exam),
        "issued": _instant(report.created_at, exam),
        "performer": [{"display": _text(exam.institution.name, NAME_LIMIT) or "Institution"}],
        "imagingStudy": [_ref(exam, "imaging-study")],
    }
    interpreters = []
    if findings is not None:
        interpreters = [
            p for p in (_person(findings.signed_by), _person(findings.attested_by)) if p
        ]
    if interpreters:
        resource["resultsInterpreter"] = [{"display": p} for p in dict.fromkeys(interpreters)]
    if observations:
        resource["result"] = [_ref(exam, name) for name, _ in observations]
    if findings is not None and (conclusion := _text(findings.impression, multiline=True)):
        resource["conclusion"] = conclusion
    if pdf is not None:
        resource["presentedForm"] = [
            {
                "contentType": "application/pdf",
                "language": "en",
                "data": base64.b64encode(pdf).decode("ascii"),
                "title": _text(report.name, NAME_LIMIT) or report.filename,
                "creation": _instant(report.created_at, exam),
            }
        ]
    return resource


def read_pdf(report) -> bytes | None:
    """The version's PDF, or ``None`` when its file is not there."""
    from portal import storage

    try:
        return storage.read_bytes(report.file)
    except (OSError, ValueError, storage.StorageError):
        return None


# -- the bundles --------------------------------------------------------------------------


def entries(
    exam, *, report=None, status: str | None = None, pdf: bytes | None = None, mrn_system=""
):
    """``[(name, resource)]`` of the exam's bundle, Patient first.

    ``report``: the version to present (by default the newest with a PDF; none: the
    exam is not reported yet, and the bundle holds no DiagnosticReport). ``status``: the
    DiagnosticReport's, when the caller knows it (a destination's result status);
    ``pdf``: the version's bytes, read from its file when not given."""
    report = report if report is not None else latest_report(exam)
    findings = _findings(exam)
    reports = []
    if report is not None:
        reports = [
            r for r in exam.reports.order_by("version") if r.has_pdf and r.version <= report.version
        ]
        if report not in reports:
            reports.append(report)
    out = [
        ("patient", patient_resource(exam, mrn_system=mrn_system)),
        ("imaging-study", imaging_study_resource(exam, _captures(exam), reports)),
    ]
    if report is None:
        return out
    status = status or report_status(exam, report)
    observations = observation_resources(exam, findings, status)
    if pdf is None:
        pdf = read_pdf(report)
    out.append(
        (
            "diagnostic-report",
            diagnostic_report_resource(exam, report, status, findings, observations, pdf),
        )
    )
    out.extend(observations)
    return out


def _bundle(exam, kind: str, entry: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "identifier": {"system": URI, "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": kind,
        "timestamp": timezone.now().replace(microsecond=0).isoformat(),
        "entry": entry,
    }


def collection(exam, **kwargs) -> dict:
    """The exam as a ``collection`` Bundle: what the API answers."""
    return _bundle(
        exam,
        "collection",
        [{"fullUrl": full_url(exam, name), "resource": r} for name, r in entries(exam, **kwargs)],
    )


def request_of(name: str, resource: dict, *, patient_search: str) -> dict:
    """The ``request`` of one transaction entry.

    The Patient is a conditional create (POST with ``ifNoneExist`` on its MRN, else on
    the portal's identifier): the EHR owns its patients, so the portal finds or adds one
    and never overwrites the chart's demographics with what a scanner typed. The
    ImagingStudy, the DiagnosticReport and each Observation are conditional updates (PUT
    ``Type?identifier=system|value``): the server updates the one it holds, or creates it
    the first time, so sending again (a retry, an addendum's amended version) replaces
    instead of adding a second report."""
    kind = resource["resourceType"]
    if kind == "Patient":
        return {"method": "POST", "url": "Patient", "ifNoneExist": patient_search}
    identifier = resource["identifier"][0]
    return {"method": "PUT", "url": f"{kind}?identifier={_search_token(identifier)}"}


def _search_token(identifier: dict) -> str:
    """``system|value`` as a search parameter: FHIR's escapes (a backslash before ``\\``,
    ``|``, ``,`` and ``$``, so an MRN holding one still names one identifier), then
    percent-encoded for the URL."""
    from urllib.parse import quote

    def part(text: str, safe: str) -> str:
        for special in ("\\", "|", ",", "$"):
            text = text.replace(special, "\\" + special)
        return quote(text, safe=safe)

    value = part(identifier["value"], ":.-")
    if system := identifier.get("system"):
        return f"{part(system, ':/.-')}|{value}"
    return value


def transaction(exam, **kwargs) -> dict:
    """The exam as a ``transaction`` Bundle: what the FHIR destination POSTs."""
    items = entries(exam, **kwargs)
    patient = items[0][1]
    mrn = next((i for i in patient["identifier"] if i.get("type")), None)
    # Only an MRN with its system names one patient; a bare MRN could be another
    # system's number, so without a system the portal's own identifier is matched.
    chosen = mrn if mrn is not None and mrn.get("system") else patient["identifier"][-1]
    search = f"identifier={_search_token(chosen)}"
    return _bundle(
        exam,
        "transaction",
        [
            {
                "fullUrl": full_url(exam, name),
                "resource": resource,
                "request": request_of(name, resource, patient_search=search),
            }
            for name, resource in items
        ],
    )


def validate(bundle: dict):
    """The bundle checked by ``fhir.resources`` (R4B models, see the module's doc);
    raises ``pydantic.ValidationError`` when it is not valid."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)
