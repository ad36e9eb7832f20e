"""Typed results of the Clarius Cloud API.

Every document becomes a frozen dataclass. The vendor may add fields at any time and
may leave documented ones out, so: documented fields are optional unless the document is
useless without them (a listing item without ``request_uuid`` raises
``InvalidResponse``); every field the vendor sent that we do not model is kept in
``extra``; a value of the wrong type (a date that is not a date) is kept in ``extra``
under its own name instead of being guessed at.

The research raw-data ``blob`` is JSON inside a string. :func:`parse_capture_metadata`
turns it into :class:`CaptureMetadata`; a malformed blob does not fail the listing: the
item keeps ``blob_raw`` and ``blob_error``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from integrations.clarius.api.errors import InvalidResponse, mask_secret
from portal.safejson import RefusedJSON
from portal.safejson import loads as load_json

Extra = dict[str, Any]
BLOB_MAX_DEPTH = 64


class _Fields:
    """Reads typed fields off one vendor document and collects what is left in ``extra``."""

    def __init__(self, document: Any, what: str) -> None:
        if not isinstance(document, Mapping):
            raise InvalidResponse(f"{what}: expected an object, got {type(document).__name__}")
        self.what = what
        self.rest = dict(document)
        self.extra: Extra = {}

    def required_str(self, key: str) -> str:
        value = self.rest.pop(key, None)
        if not isinstance(value, str) or not value:
            raise InvalidResponse(f"{self.what}: missing or empty {key!r}")
        return value

    def text(self, key: str) -> str | None:
        return self._typed(key, str)

    def flag(self, key: str) -> bool | None:
        return self._typed(key, bool)

    def number(self, key: str) -> float | None:
        value = self.rest.pop(key, None)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        self.extra[key] = value
        return None

    def timestamp(self, key: str) -> datetime | None:
        value = self.rest.pop(key, None)
        if value is None:
            return None
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            self.extra[key] = value
        return parsed

    def day(self, key: str) -> date | None:
        value = self.rest.pop(key, None)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.extra[key] = value
        return None

    def items(self, key: str) -> list[Any]:
        value = self.rest.pop(key, None)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.extra[key] = value
        return []

    def object(self, key: str) -> Any:
        return self.rest.pop(key, None)

    def finish(self) -> Extra:
        return {**self.rest, **self.extra}

    def _typed(self, key: str, kind: type) -> Any:
        value = self.rest.pop(key, None)
        if value is None or isinstance(value, kind):
            return value
        self.extra[key] = value
        return None


def parse_datetime(value: str) -> datetime | None:
    """ISO 8601 with ``Z`` or an offset; None if it is not one."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


# --- Service API ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSettings:
    notification_url: str | None
    token_transfer_url: str | None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> ServiceSettings:
        f = _Fields(document, "service settings")
        return cls(f.text("notification_url"), f.text("token_transfer_url"), f.finish())


@dataclass(frozen=True)
class ExamDownload:
    """One submission of an exam: a webhook payload or an ``exams/accessible/`` item."""

    request_uuid: str
    download_url: str
    exam_uuid: str | None = None
    customer_id: str | None = None
    submitted_at: datetime | None = None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> ExamDownload:
        f = _Fields(document, "exam download")
        return cls(
            request_uuid=f.required_str("request_uuid"),
            download_url=f.required_str("download_url"),
            exam_uuid=f.text("exam_uuid"),
            customer_id=f.text("customer_id"),
            submitted_at=f.timestamp("submitted_at"),
            extra=f.finish(),
        )


@dataclass(frozen=True)
class Patient:
    """Every field may be absent; humans have names, animals ``animal_*`` and an owner."""

    identifier: str | None = None
    date_of_birth: date | None = None
    gender: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    animal_name: str | None = None
    animal_type: str | None = None
    owner_name: str | None = None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> Patient:
        f = _Fields(document, "patient")
        return cls(
            identifier=f.text("identifier"),
            date_of_birth=f.day("date_of_birth"),
            gender=f.text("gender"),
            first_name=f.text("first_name"),
            middle_name=f.text("middle_name"),
            last_name=f.text("last_name"),
            animal_name=f.text("animal_name"),
            animal_type=f.text("animal_type"),
            owner_name=f.text("owner_name"),
            extra=f.finish(),
        )

    @property
    def is_animal(self) -> bool:
        return bool(self.animal_name or self.animal_type or self.owner_name)


@dataclass(frozen=True)
class CaptureLink:
    """One capture of an exam; ``url`` is a short-lived media link (no credential)."""

    url: str
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> CaptureLink:
        f = _Fields(document, "capture")
        return cls(url=f.required_str("url"), extra=f.finish())


@dataclass(frozen=True)
class ExamData:
    """What ``download_url`` returns; its content is configured per service by Clarius."""

    request_uuid: str | None
    patient: Patient | None
    captures: list[CaptureLink]
    extra: Extra = field(default_factory=dict)
    # The whole document as parsed, for the submission's raw copy.
    document: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, document: Any) -> ExamData:
        f = _Fields(document, "exam data")
        patient = f.object("patient")
        return cls(
            request_uuid=f.text("request_uuid"),
            patient=Patient.from_json(patient) if patient is not None else None,
            captures=[CaptureLink.from_json(item) for item in f.items("captures")],
            extra=f.finish(),
            document=document,
        )


@dataclass(frozen=True)
class NotificationRequest:
    url: str | None = None
    method: str | None = None
    content: str | None = None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> NotificationRequest:
        f = _Fields(document, "notification request")
        return cls(f.text("url"), f.text("method"), f.text("content"), f.finish())


@dataclass(frozen=True)
class NotificationEvent:
    """One webhook call: what was sent, and the response or the error (``"timed out"``)."""

    sent_at: datetime | None = None
    request: NotificationRequest | None = None
    response: Any = None  # undocumented shape: kept as the vendor sent it
    error: str | None = None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> NotificationEvent:
        f = _Fields(document, "notification event")
        request = f.object("request")
        return cls(
            sent_at=f.timestamp("sent_at"),
            request=NotificationRequest.from_json(request) if request is not None else None,
            response=f.object("response"),
            error=f.text("error"),
            extra=f.finish(),
        )

    @property
    def status_code(self) -> int | None:
        """The webhook's HTTP status when the response records one."""
        if isinstance(self.response, Mapping):
            for key in ("status_code", "status", "code"):
                value = self.response.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
        return None


@dataclass(frozen=True)
class NotificationRecord:
    logged_at: datetime | None
    event: NotificationEvent | None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> NotificationRecord:
        f = _Fields(document, "notification record")
        event = f.object("event")
        return cls(
            logged_at=f.timestamp("logged_at"),
            event=NotificationEvent.from_json(event) if event is not None else None,
            extra=f.finish(),
        )


@dataclass(frozen=True)
class ApiKey:
    """A Service API key. ``key`` (the full secret) is only set right after creation;
    it is masked in ``repr`` so it cannot end up in a log by accident."""

    prefix: str
    name: str | None = None
    created: datetime | None = None
    key: str | None = field(default=None, repr=False)
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> ApiKey:
        f = _Fields(document, "API key")
        return cls(
            prefix=f.required_str("prefix"),
            name=f.text("name"),
            created=f.timestamp("created"),
            key=f.text("key"),
            extra=f.finish(),
        )

    def __repr__(self) -> str:
        shown = mask_secret(self.key) if self.key else None
        return (
            f"ApiKey(prefix={self.prefix!r}, name={self.name!r}, created={self.created!r}, "
            f"key={shown!r}, extra={self.extra!r})"
        )


@dataclass(frozen=True)
class ExamApplication:
    """An exam application (preset) on Clarius Cloud, e.g. "Abdomen"."""

    uuid: str
    name: str | None = None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> ExamApplication:
        f = _Fields(document, "exam application")
        return cls(uuid=f.required_str("uuid"), name=f.text("name"), extra=f.finish())


@dataclass(frozen=True)
class AnnotationGroup:
    """Labels offered together in the Clarius app; labels of ``linked`` groups combine."""

    title: str
    labels: list[str] = field(default_factory=list)
    linked: bool = False
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> AnnotationGroup:
        f = _Fields(document, "annotation group")
        title = f.text("title") or ""
        labels = [label for label in f.items("labels") if isinstance(label, str)]
        return cls(title=title, labels=labels, linked=bool(f.flag("linked")), extra=f.finish())

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "labels": list(self.labels), "linked": self.linked}


@dataclass(frozen=True)
class ApplicationCustomisation:
    """The service's annotation groups for one exam application."""

    uuid: str
    name: str | None = None
    annotations: list[AnnotationGroup] = field(default_factory=list)
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> ApplicationCustomisation:
        f = _Fields(document, "application customisation")
        return cls(
            uuid=f.required_str("uuid"),
            name=f.text("name"),
            annotations=[AnnotationGroup.from_json(g) for g in f.items("annotations")],
            extra=f.finish(),
        )


@dataclass(frozen=True)
class ReportReceipt:
    """Clarius' answer to a report upload (undocumented: whatever it sent is in ``extra``)."""

    status: int
    extra: Extra = field(default_factory=dict)


# --- Research API --------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSize:
    samples_per_line: int | None = None
    number_of_lines: int | None = None
    sample_size_bytes: int | None = None  # from "1 bytes"
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """One data stream of a capture section (e.g. B pre-scan, jpeg, 7.54 MHz)."""

    stream_id: int | None = None
    size: StreamSize | None = None
    type: str | None = None
    compression: str | None = None
    sampling_rate_hz: float | None = None  # from "7.5438596491228074 MHz"
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Acoustic:
    """Acoustic output indices: mechanical index, bone and soft-tissue thermal indices."""

    mi: float | None = None
    tib: float | None = None
    tis: float | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    files: list[Any] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    acoustic: Acoustic | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureMetadata:
    """The parsed raw-data ``blob``: when, which exam, which probe, what streams."""

    id: str | None = None
    date_time: datetime | None = None
    exam_id: str | None = None
    probe_serial: str | None = None
    probe_model: str | None = None
    sections: list[Section] = field(default_factory=list)
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class RawDataCapture:
    """One item of ``exams/rawdata/<exam>/``.

    ``metadata`` is the parsed ``blob``, or None with ``blob_error`` saying why;
    ``blob_raw`` is always the string as sent. ``raw_image`` is a cloud-storage link
    valid for 7 days, fetched without credentials.
    """

    capture_uuid: str | None
    metadata: CaptureMetadata | None
    blob_raw: str | None
    blob_error: str | None
    raw_image: str | None
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> RawDataCapture:
        f = _Fields(document, "raw data capture")
        blob = f.object("blob")
        metadata, error = None, None
        if isinstance(blob, str):
            try:
                metadata = parse_capture_metadata(blob)
            except ValueError as e:
                error = str(e)
        elif isinstance(blob, Mapping):
            # Tolerate a vendor change that sends the object instead of the string.
            try:
                metadata = capture_metadata_from_json(blob)
            except ValueError as e:
                error = str(e)
            blob = json.dumps(blob)
        elif blob is None:
            error = "no blob"
        else:
            error = f"blob is a {type(blob).__name__}, not a string"
            blob = json.dumps(blob)
        return cls(
            capture_uuid=f.text("capture_uuid"),
            metadata=metadata,
            blob_raw=blob,
            blob_error=error,
            raw_image=f.text("raw_image"),
            extra=f.finish(),
        )


@dataclass(frozen=True)
class DicomExportDocument:
    """Clarius' answer to a DICOM export request (the portal's row is ``models.DicomExport``).

    ``download_url`` is a cloud-storage link to the DICOM, fetched without credentials."""

    download_url: str
    extra: Extra = field(default_factory=dict)

    @classmethod
    def from_json(cls, document: Any) -> DicomExportDocument:
        f = _Fields(document, "DICOM export")
        return cls(download_url=f.required_str("download_url"), extra=f.finish())


_QUANTITY_RE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")
_FREQUENCY_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "": 1.0}


def _quantity(value: Any) -> tuple[float, str] | None:
    """``"7.54 MHz"`` → ``(7.54, "mhz")``; a bare number → ``(n, "")``; else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), ""
    if isinstance(value, str):
        match = _QUANTITY_RE.match(value)
        if match:
            return float(match[1]), match[2].lower()
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _braced_uuid(value: Any) -> str | None:
    """``"{46805f86-...}"`` → ``"46805f86-..."`` (the blob wraps ids in braces)."""
    if not isinstance(value, str):
        return None
    return value.strip().removeprefix("{").removesuffix("}")


def _pop_into(rest: dict[str, Any], extra: Extra, key: str, converter: Any) -> Any:
    """Pop ``key`` and convert it; a value the converter rejects is kept in ``extra``."""
    if key not in rest:
        return None
    raw = rest.pop(key)
    value = converter(raw) if raw is not None else None
    if value is None and raw is not None:
        extra[key] = raw
    return value


def _stream_from_json(document: Any) -> Stream:
    if not isinstance(document, Mapping):
        raise ValueError("a stream is not an object")
    rest, extra = dict(document), {}
    stream_id = _pop_into(rest, extra, "stream id", _integer)
    info = rest.pop("info", None)
    size = stream_type = compression = rate_hz = None
    if isinstance(info, Mapping):
        info_rest: dict[str, Any] = dict(info)
        info_extra: Extra = {}
        raw_size = info_rest.pop("size", None)
        if isinstance(raw_size, Mapping):
            size_rest: dict[str, Any] = dict(raw_size)
            size_extra: Extra = {}

            def bytes_of(value: Any) -> int | None:
                quantity = _quantity(value)
                if quantity and quantity[1] in ("byte", "bytes", "b", ""):
                    return _integer(quantity[0])
                return None

            size = StreamSize(
                samples_per_line=_pop_into(size_rest, size_extra, "samples per line", _integer),
                number_of_lines=_pop_into(size_rest, size_extra, "number of lines", _integer),
                sample_size_bytes=_pop_into(size_rest, size_extra, "sample size", bytes_of),
                extra={**size_rest, **size_extra},
            )
        elif raw_size is not None:
            info_extra["size"] = raw_size

        def hertz(value: Any) -> float | None:
            quantity = _quantity(value)
            if quantity and quantity[1] in _FREQUENCY_UNITS:
                return quantity[0] * _FREQUENCY_UNITS[quantity[1]]
            return None

        def text(value: Any) -> str | None:
            return value if isinstance(value, str) else None

        stream_type = _pop_into(info_rest, info_extra, "type", text)
        compression = _pop_into(info_rest, info_extra, "compression", text)
        rate_hz = _pop_into(info_rest, info_extra, "sampling rate", hertz)
        if info_rest or info_extra:
            extra["info"] = {**info_rest, **info_extra}
    elif info is not None:
        extra["info"] = info
    return Stream(
        stream_id=stream_id,
        size=size,
        type=stream_type,
        compression=compression,
        sampling_rate_hz=rate_hz,
        extra={**rest, **extra},
    )


def _acoustic_from_json(document: Any) -> Acoustic:
    if not isinstance(document, Mapping):
        raise ValueError("acoustic is not an object")
    rest, extra = dict(document), {}

    def number(value: Any) -> float | None:
        quantity = _quantity(value)
        return quantity[0] if quantity and not quantity[1] else None

    return Acoustic(
        mi=_pop_into(rest, extra, "mi", number),
        tib=_pop_into(rest, extra, "tib", number),
        tis=_pop_into(rest, extra, "tis", number),
        extra={**rest, **extra},
    )


def _section_from_json(document: Any) -> Section:
    if not isinstance(document, Mapping):
        raise ValueError("a section is not an object")
    rest = dict(document)
    files = rest.pop("files", None)
    streams = rest.pop("streams", None)
    acoustic = rest.pop("acoustic", None)
    if streams is not None and not isinstance(streams, list):
        raise ValueError("section streams is not a list")
    return Section(
        files=files if isinstance(files, list) else [],
        streams=[_stream_from_json(s) for s in streams or []],
        acoustic=_acoustic_from_json(acoustic) if acoustic is not None else None,
        extra=rest if isinstance(files, list | None) else {**rest, "files": files},
    )


def capture_metadata_from_json(document: Mapping[str, Any]) -> CaptureMetadata:
    """Build :class:`CaptureMetadata` from the decoded blob; ``ValueError`` if malformed."""
    if not isinstance(document, Mapping):
        raise ValueError("the blob is not a JSON object")
    rest: dict[str, Any] = dict(document)
    extra: Extra = {}

    def when(value: Any) -> datetime | None:
        return parse_datetime(value) if isinstance(value, str) else None

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    sections = rest.pop("sections", None)
    if sections is not None and not isinstance(sections, list):
        raise ValueError("the blob's sections is not a list")
    return CaptureMetadata(
        id=_pop_into(rest, extra, "id", _braced_uuid),
        date_time=_pop_into(rest, extra, "date and time", when),
        exam_id=_pop_into(rest, extra, "exam id", _braced_uuid),
        probe_serial=_pop_into(rest, extra, "probe serial", text),
        probe_model=_pop_into(rest, extra, "probe model", text),
        sections=[_section_from_json(s) for s in sections or []],
        extra={**rest, **extra},
    )


def parse_capture_metadata(blob: str) -> CaptureMetadata:
    """Parse a raw-data ``blob`` string; ``ValueError`` (with the reason) if malformed."""
    try:
        document = load_json(blob, max_depth=BLOB_MAX_DEPTH, duplicates="last")
    except RefusedJSON as e:
        raise ValueError(f"the blob {e}") from None
    return capture_metadata_from_json(document)
