"""Clients for the Clarius Cloud public API: :class:`ServiceClient` and :class:`ResearchClient`.

Every endpoint of ``docs/clarius-cloud-api.md`` is a method here; every request goes
through :class:`~integrations.clarius.api.transport.Transport` (timeouts, the one retry
policy, error mapping) after :class:`~integrations.clarius.api.origin.OriginGuard` has
accepted its URL. Paginated endpoints are generators that fetch one page at a time and
check each ``next`` link with the guard before the credential is attached to it.

Nothing here reads Django settings: ``integrations.clarius.clients`` builds the clients
of this installation from them. Constructed explicitly::

    client = ServiceClient("https://cloud.clarius.com/api/public/v0/", api_key,
                           media_origins=["https://*.amazonaws.com"])
    for exam in client.iter_accessible_exams(customer_id=token):
        data = client.get_exam_data(exam.download_url)
        for capture in data.captures:
            client.download_media(capture.url, media_dir / "capture.bin")

The credential is never logged and appears masked (``Q4nmtzH5.***``) in ``repr``.
"""

from __future__ import annotations

import re
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Self, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests

from integrations.clarius.api.documents import (
    AnnotationGroup,
    ApiKey,
    ApplicationCustomisation,
    DicomExportDocument,
    ExamApplication,
    ExamData,
    ExamDownload,
    NotificationRecord,
    RawDataCapture,
    ReportReceipt,
    ServiceSettings,
)
from integrations.clarius.api.download import (
    CHUNK_SIZE,
    DEFAULT_MAX_BYTES,
    DownloadedMedia,
    StoredMedia,
    save_stream,
    store_stream,
)
from integrations.clarius.api.errors import (
    BadRequest,
    InvalidParameter,
    InvalidResponse,
    Unauthorized,
    mask_secret,
    redact_url,
)
from integrations.clarius.api.origin import OriginGuard
from integrations.clarius.api.transport import (
    MultipartBody,
    RetryPolicy,
    Sleep,
    Timeouts,
    Transport,
)
from portal.safejson import RefusedJSON
from portal.safejson import loads as load_json

T = TypeVar("T")

# A paginated listing is followed for at most this many pages: a `next` that loops
# (a vendor bug) must not keep a worker busy forever.
MAX_PAGES = 10_000
# No Clarius document nests anywhere near this deep; deeper is refused before parsing.
MAX_DEPTH = 64

DICOM_SYNTAXES = (
    "jpeg lossless nonheirarchical process 14",  # the vendor's spelling, sent as is
    "jpeg ls lossless",
)
DICOM_DEMOGRAPHICS = (
    "PATIENT_NAME",
    "PATIENT_ID",
    "PATIENT_GENDER",
    "PATIENT_DATE_OF_BIRTH",
    "INSTITUTION_NAME",
    "INSTITUTION_ADDRESS",
    "OPERATOR_ID",
    "EXAM_DATE",
    "PROBE_MODEL",
    "APPLICATION",
    "ACOUSTIC_INDICES",
)
_RESOLUTION_RE = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")
_TZ_RE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
_CREDENTIAL_RE = re.compile(r"^[\x21-\x7e]+$")


def parse_document(content: bytes) -> Any:
    """A Clarius answer's JSON, or ``RefusedJSON`` saying why not.

    Nesting is bounded. A key sent twice with different values is refused rather than
    one of them guessed at (which identifier is the patient's?); the same value twice is
    harmless. Numbers no column can hold (``1e999``, ``NaN``, 5,000 digits) are kept as
    the text Clarius sent, so such a document is stored, not refused.
    """
    return load_json(content, max_depth=MAX_DEPTH, duplicates="conflicting", lenient_numbers=True)


def _check_credential(value: Any, what: str) -> str:
    """Refuse a credential that cannot go in a header, without ever echoing it.

    requests would refuse it too, but its error message quotes the header value.
    """
    if not isinstance(value, str) or not _CREDENTIAL_RE.match(value):
        raise InvalidParameter(f"{what}: missing, or contains whitespace or control characters")
    return value


def _segment(value: Any, what: str) -> str:
    """``value`` as one quoted URL path segment; refuses empty and dot segments."""
    text = str(value)
    if not text or text in (".", "..") or "/" in text or "\\" in text:
        raise InvalidParameter(f"{what}: not a valid identifier: {text!r}")
    return quote(text, safe="")


class _ClariusClient:
    """What both APIs share: configuration, the transport, pagination, media download."""

    def __init__(
        self,
        api_url: str,
        *,
        media_origins: Iterable[str] = (),
        allow_http: bool = False,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        max_media_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 3,
    ) -> None:
        self.guard = OriginGuard(api_url, media_origins, allow_http=allow_http)
        self.api_url = self.guard.api_url
        self.transport = Transport(
            self.guard, timeouts=timeouts, retry=retry, session=session, sleep=sleep
        )
        self.max_media_bytes = max_media_bytes
        self.max_redirects = max_redirects

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------

    def _authorization(self) -> str | None:
        raise NotImplementedError

    def _secrets(self) -> list[str | None]:
        raise NotImplementedError

    def _url(self, path: str) -> str:
        return self.api_url + path

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.transport.api(
            method,
            url,
            authorization=self._authorization(),
            secrets=self._secrets(),
            **kwargs,
        )

    def _json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        url = path_or_url if "://" in path_or_url else self._url(path_or_url)
        response = self._call(method, url, **kwargs)
        try:
            return parse_document(response.content)
        except RefusedJSON as e:
            raise InvalidResponse(
                f"{method} {redact_url(url)}: the answer {e}", status=response.status_code
            ) from None

    def _iterate(
        self, path: str, parse: Callable[[Any], T], params: Mapping[str, Any] | None = None
    ) -> Iterator[T]:
        """Yield parsed items of a listing, following ``next`` one page at a time.

        Accepts the documented paginated envelope and a bare JSON list (the reference
        shows some listings that way). Each ``next`` URL is resolved against the page it
        came from and must pass the API origin guard before the credential goes to it.
        """
        url = self._url(path)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for _ in range(MAX_PAGES):
            document = self._json("GET", url, params=query or None)
            query = {}  # `next` carries the query of the following page
            if isinstance(document, list):
                yield from (parse(item) for item in document)
                return
            if not isinstance(document, Mapping) or not isinstance(document.get("results"), list):
                raise InvalidResponse(f"GET {redact_url(url)}: not a paginated listing")
            for item in document["results"]:
                yield parse(item)
            next_url = document.get("next")
            if not next_url:
                return
            if not isinstance(next_url, str):
                raise InvalidResponse(f"GET {redact_url(url)}: `next` is not a URL")
            next_url = urljoin(url, next_url)
            if next_url == url:
                raise InvalidResponse(f"GET {redact_url(url)}: `next` points at itself")
            url = next_url
        raise InvalidResponse(f"GET {redact_url(self._url(path))}: over {MAX_PAGES} pages")

    # --- media ----------------------------------------------------------------------

    def download_media(
        self,
        url: str,
        destination: str | Path,
        *,
        max_bytes: int | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> DownloadedMedia:
        """Stream a capture, raw-data or DICOM link to ``destination``, without credentials.

        ``url`` must be on ``CLARIUS_MEDIA_ORIGINS`` or the API origin (so must every
        redirect target, at most ``max_redirects``). The file appears at ``destination``
        only complete and fsynced. Raises ``OriginRefused``, ``MediaTooLarge`` (over
        ``max_bytes``, default ``max_media_bytes``), ``TransportError`` or the mapped HTTP
        error; on any of them no file is left. Media links are short-lived: after a
        failure, fetch the exam data again for a fresh link rather than retrying this one.
        """
        response = self.transport.open_media(url, max_redirects=self.max_redirects)
        return save_stream(
            response,
            Path(destination),
            max_bytes=self.max_media_bytes if max_bytes is None else max_bytes,
            chunk_size=chunk_size,
        )

    def store_media(
        self,
        url: str,
        name_for,
        *,
        open_writer,
        max_bytes: int | None = None,
        chunk_size: int = CHUNK_SIZE,
        copy_to: Path | None = None,
    ) -> StoredMedia:
        """Stream a media link straight into a store (``store_stream``, through
        ``open_writer(name)``): same origin guard and cap as ``download_media``;
        ``name_for(sniffed, declared)`` names the stored file from the first bytes, or
        refuses the body with ``None``. Nothing is stored at the name unless the whole
        body arrived."""
        response = self.transport.open_media(url, max_redirects=self.max_redirects)
        return store_stream(
            response,
            name_for,
            open_writer=open_writer,
            max_bytes=self.max_media_bytes if max_bytes is None else max_bytes,
            chunk_size=chunk_size,
            copy_to=copy_to,
        )


class MediaClient(_ClariusClient):
    """Media links only (``store_media``, ``download_media``): they carry no credential,
    so this client holds none and refuses any API call."""

    def __repr__(self) -> str:
        return f"MediaClient(api_url={self.api_url!r})"

    def _authorization(self) -> str | None:
        raise InvalidParameter("a media client calls no API: use a Service or Research client")

    def _secrets(self) -> list[str | None]:
        return []


class ServiceClient(_ClariusClient):
    """The Service API, authenticated with ``Authorization: Service-API-Key <key>``."""

    def __init__(self, api_url: str, api_key: str, **kwargs: Any) -> None:
        _check_credential(api_key, "ServiceClient needs a Service API key (CLARIUS_API_KEY)")
        super().__init__(api_url, **kwargs)
        self._api_key = api_key

    @property
    def masked_key(self) -> str:
        return mask_secret(self._api_key)

    def __repr__(self) -> str:
        return f"ServiceClient(api_url={self.api_url!r}, api_key={self.masked_key!r})"

    def _authorization(self) -> str:
        return f"Service-API-Key {self._api_key}"

    def _secrets(self) -> list[str | None]:
        return [self._api_key]

    # --- §5 settings ----------------------------------------------------------------

    def get_settings(self) -> ServiceSettings:
        """``GET services/settings/``."""
        return ServiceSettings.from_json(self._json("GET", "services/settings/"))

    def update_settings(
        self, *, notification_url: str | None = None, token_transfer_url: str | None = None
    ) -> ServiceSettings:
        """``PATCH services/settings/`` with the fields given (``""`` clears one).

        ``token_transfer_url`` must contain ``{token}``; both must be http(s) URLs.
        """
        body: dict[str, str] = {}
        if notification_url is not None:
            body["notification_url"] = _settings_url("notification_url", notification_url)
        if token_transfer_url is not None:
            url = _settings_url("token_transfer_url", token_transfer_url)
            if url and "{token}" not in url:
                raise InvalidParameter("token_transfer_url must contain the literal {token}")
            body["token_transfer_url"] = url
        if not body:
            raise InvalidParameter("update_settings: nothing to update")
        return ServiceSettings.from_json(self._json("PATCH", "services/settings/", json=body))

    # --- §1 account linking -----------------------------------------------------------

    def confirm_customer(self, token: str) -> None:
        """``POST services/customer-confirmations/``: confirm a linked customer token.

        Raises ``NotFound`` when Clarius knows no customer with this token. Not retried
        here (a POST): the caller retries on errors that are not ``permanent``.
        """
        if not token:
            raise InvalidParameter("confirm_customer: empty token")
        self._call("POST", self._url("services/customer-confirmations/"), json={"token": token})

    def iter_confirmed_tokens(self, *, limit: int | None = None) -> Iterator[str]:
        """``GET services/confirmed-tokens/``: every confirmed customer token."""

        def parse(item: Any) -> str:
            if not isinstance(item, str):
                raise InvalidResponse("confirmed-tokens: an item is not a string")
            return item

        return self._iterate("services/confirmed-tokens/", parse, {"limit": limit})

    # --- §3, §4 exams -----------------------------------------------------------------

    def iter_accessible_exams(
        self, *, customer_id: str | None = None, limit: int | None = None
    ) -> Iterator[ExamDownload]:
        """``GET exams/accessible/``: every exam download, optionally for one customer."""
        params = {"customer_id": customer_id, "limit": limit}
        return self._iterate("exams/accessible/", ExamDownload.from_json, params)

    def get_exam_data(self, download_url: str) -> ExamData:
        """``GET <download_url>`` with the key; the URL must be on the API origin and path.

        Raises ``OriginRefused`` (no request made) for any other URL, and ``BadRequest``
        with ``still_processing`` when Clarius has not finished processing the exam.
        """
        return ExamData.from_json(self._json("GET", self.guard.check_api(download_url)))

    # --- §7 reports -------------------------------------------------------------------

    def upload_report(
        self,
        request_uuid: str,
        name: str,
        file: BinaryIO | str | Path,
        *,
        filename: str | None = None,
        content_type: str = "application/pdf",
    ) -> ReportReceipt:
        """``POST services/requests/<request_uuid>/reports/`` (multipart ``name`` + ``file``).

        ``file`` is a path or a seekable binary file object; it is streamed from disk,
        never read whole. Not retried (a POST).
        """
        if not name:
            raise InvalidParameter("upload_report: a report needs a name")
        url = self._url(f"services/requests/{_segment(request_uuid, 'request_uuid')}/reports/")
        if isinstance(file, str | Path):
            with open(file, "rb") as fileobj:
                return self._upload(url, name, fileobj, filename or Path(file).name, content_type)
        default_name = Path(getattr(file, "name", "") or "report.pdf").name
        return self._upload(url, name, file, filename or default_name, content_type)

    def _upload(
        self, url: str, name: str, fileobj: BinaryIO, filename: str, content_type: str
    ) -> ReportReceipt:
        body = MultipartBody(
            {"name": name},
            file_field="file",
            fileobj=fileobj,
            filename=filename,
            file_content_type=content_type,
        )
        response = self._call("POST", url, data=body, headers={"Content-Type": body.content_type})
        try:
            document = parse_document(response.content) if response.content else {}
        except RefusedJSON:
            document = {"body": response.text[:300]}
        extra = dict(document) if isinstance(document, Mapping) else {"body": document}
        return ReportReceipt(status=response.status_code, extra=extra)

    # --- §6 notification records ------------------------------------------------------

    def iter_notification_records(
        self, *, limit: int | None = None
    ) -> Iterator[NotificationRecord]:
        """``GET services/notifications/records/``: webhook calls of the last 14 days."""
        return self._iterate(
            "services/notifications/records/", NotificationRecord.from_json, {"limit": limit}
        )

    # --- §8 API keys ------------------------------------------------------------------

    def list_api_keys(self) -> list[ApiKey]:
        """``GET services/api-keys/`` (prefixes and names; never the secrets)."""
        return list(self._iterate("services/api-keys/", ApiKey.from_json))

    def create_api_key(self, name: str) -> ApiKey:
        """``POST services/api-keys/``; the result's ``key`` is the only copy of the secret."""
        if not name:
            raise InvalidParameter("create_api_key: a key needs a name")
        key = ApiKey.from_json(self._json("POST", "services/api-keys/", json={"name": name}))
        if not key.key:
            raise InvalidResponse("create_api_key: the answer has no key")
        return key

    def revoke_api_key(self, prefix: str) -> None:
        """``DELETE services/api-keys/<prefix>/``. Clarius refuses the key in use."""
        if prefix == self._api_key.partition(".")[0]:
            raise InvalidParameter("revoke_api_key: a key cannot revoke itself")
        self._call("DELETE", self._url(f"services/api-keys/{_segment(prefix, 'prefix')}/"))

    # --- §9 applications ------------------------------------------------------------

    def list_exam_applications(self) -> list[ExamApplication]:
        """``GET exams/applications/``: the exam applications (presets) on Clarius Cloud."""
        return list(self._iterate("exams/applications/", ExamApplication.from_json))

    def list_application_customisations(self) -> list[ApplicationCustomisation]:
        """``GET services/applications/``: this service's annotation customisations."""
        return list(self._iterate("services/applications/", ApplicationCustomisation.from_json))

    def get_application_customisation(self, application_uuid: str) -> ApplicationCustomisation:
        """``GET services/applications/<uuid>/``; ``NotFound`` when there is none."""
        return ApplicationCustomisation.from_json(
            self._json("GET", self._application_path(application_uuid))
        )

    def put_application_customisation(
        self,
        application_uuid: str,
        annotations: Sequence[AnnotationGroup | Mapping[str, Any]],
    ) -> ApplicationCustomisation:
        """``PUT services/applications/<uuid>/``: replace the annotation groups."""
        groups = [_annotation_group(group) for group in annotations]
        document = self._json(
            "PUT", self._application_path(application_uuid), json={"annotations": groups}
        )
        return ApplicationCustomisation.from_json(document)

    def delete_application_customisation(self, application_uuid: str) -> None:
        """``DELETE services/applications/<uuid>/``."""
        self._call("DELETE", self._url(self._application_path(application_uuid)))

    @staticmethod
    def _application_path(application_uuid: str) -> str:
        return f"services/applications/{_segment(application_uuid, 'application uuid')}/"


class ResearchClient(_ClariusClient):
    """The Research API (Research Bundle), authenticated with ``Authorization: Token <t>``.

    Give a ``token`` obtained earlier, or call :meth:`authenticate` first.
    """

    def __init__(self, api_url: str, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(api_url, **kwargs)
        self._token = _check_credential(token, "research token") if token is not None else None

    @property
    def token(self) -> str | None:
        return self._token

    def __repr__(self) -> str:
        return f"ResearchClient(api_url={self.api_url!r}, token={mask_secret(self._token)!r})"

    def _authorization(self) -> str | None:
        return f"Token {self._token}" if self._token else None

    def _secrets(self) -> list[str | None]:
        return [self._token]

    def authenticate(self, username: str, password: str) -> str:
        """``POST token-auth/``; keeps and returns the token (store it encrypted).

        Raises ``Unauthorized`` when Clarius answers 400 (invalid credentials).
        """
        try:
            response = self.transport.api(
                "POST",
                self._url("token-auth/"),
                authorization=None,
                secrets=[password, username, self._token],
                json={"username": username, "password": password},
            )
        except BadRequest as e:
            raise Unauthorized(
                "research token-auth refused the credentials",
                status=e.status,
                body_excerpt=e.body_excerpt,
            ) from None
        try:
            token = parse_document(response.content).get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not _CREDENTIAL_RE.match(token):
            raise InvalidResponse("token-auth: the answer has no usable token")
        self._token = token
        return token

    def _require_token(self) -> None:
        if not self._token:
            raise InvalidParameter("ResearchClient: no token; call authenticate() first")

    def list_raw_data(self, exam: str) -> list[RawDataCapture]:
        """``GET exams/rawdata/<exam>/``: one item per capture, its ``blob`` parsed.

        ``Forbidden`` without permission, ``NotFound`` for no such exam, ``BadRequest``
        with ``still_processing`` while Clarius processes it.
        """
        self._require_token()
        return list(
            self._iterate(f"exams/rawdata/{_segment(exam, 'exam')}/", RawDataCapture.from_json)
        )

    def export_dicom(
        self,
        exam: str,
        *,
        syntax: str | None = None,
        b_image_only: bool | None = None,
        resolution: str | tuple[int, int] | None = None,
        include_annotations: bool | None = None,
        include_demographics: bool | None = None,
        include_measurements: bool | None = None,
        include_scan_parameters: bool | None = None,
        demographics: Sequence[str] | None = None,
        tz: str | None = None,
    ) -> DicomExportDocument:
        """``POST exams/dicom/<exam>/``; only the parameters given are sent (Clarius
        applies its defaults to the rest). Parameters are validated first
        (``InvalidParameter``, no request): ``syntax`` one of :data:`DICOM_SYNTAXES`,
        ``resolution`` ``"<w>x<h>"`` or ``(w, h)``, ``demographics`` names from
        :data:`DICOM_DEMOGRAPHICS`, ``tz`` an IANA time zone. ``b_image_only`` overrides
        every overlay flag (Clarius' rule)."""
        self._require_token()
        body = dicom_parameters(
            syntax=syntax,
            b_image_only=b_image_only,
            resolution=resolution,
            include_annotations=include_annotations,
            include_demographics=include_demographics,
            include_measurements=include_measurements,
            include_scan_parameters=include_scan_parameters,
            demographics=demographics,
            tz=tz,
        )
        document = self._json("POST", f"exams/dicom/{_segment(exam, 'exam')}/", json=body)
        return DicomExportDocument.from_json(document)


def dicom_parameters(
    *,
    syntax: str | None = None,
    b_image_only: bool | None = None,
    resolution: str | tuple[int, int] | None = None,
    include_annotations: bool | None = None,
    include_demographics: bool | None = None,
    include_measurements: bool | None = None,
    include_scan_parameters: bool | None = None,
    demographics: Sequence[str] | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    """The validated JSON body of a DICOM export; raises ``InvalidParameter``."""
    body: dict[str, Any] = {}
    if syntax is not None:
        if syntax not in DICOM_SYNTAXES:
            raise InvalidParameter(f"syntax must be one of {DICOM_SYNTAXES}, got {syntax!r}")
        body["syntax"] = syntax
    flags = {
        "b_image_only": b_image_only,
        "include_annotations": include_annotations,
        "include_demographics": include_demographics,
        "include_measurements": include_measurements,
        "include_scan_parameters": include_scan_parameters,
    }
    for key, value in flags.items():
        if value is not None:
            if not isinstance(value, bool):
                raise InvalidParameter(f"{key} must be True or False, got {value!r}")
            body[key] = value
    if resolution is not None:
        if isinstance(resolution, tuple):
            if len(resolution) != 2 or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in resolution
            ):
                raise InvalidParameter(f"resolution must be (width, height), got {resolution!r}")
            resolution = f"{resolution[0]}x{resolution[1]}"
        if not isinstance(resolution, str) or not _RESOLUTION_RE.match(resolution):
            raise InvalidParameter(f"resolution must be '<width>x<height>', got {resolution!r}")
        body["resolution"] = resolution
    if demographics is not None:
        if isinstance(demographics, str):
            raise InvalidParameter("demographics must be a list of names, not one string")
        names = list(demographics)
        unknown = [name for name in names if name not in DICOM_DEMOGRAPHICS]
        if unknown:
            raise InvalidParameter(
                f"unknown demographics {unknown!r}; expected names from {DICOM_DEMOGRAPHICS}"
            )
        body["demographics"] = list(dict.fromkeys(names))
    if tz is not None:
        body["tz"] = _time_zone(tz)
    return body


def _time_zone(tz: str) -> str:
    if not isinstance(tz, str) or not _TZ_RE.match(tz) or ".." in tz:
        raise InvalidParameter(f"tz must be an IANA time zone name, got {tz!r}")
    if tz == "UTC" or not zoneinfo.available_timezones():
        return tz  # no time zone database here: the syntax check is all we can do
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter(f"tz: unknown time zone {tz!r}") from None
    return tz


def _settings_url(name: str, value: str) -> str:
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter(f"{name} must be an http(s) URL or '', got {value!r}")
    return value


def _annotation_group(group: AnnotationGroup | Mapping[str, Any]) -> dict[str, Any]:
    """A validated annotation group document: ``title`` str, ``labels`` [str], ``linked``."""
    if isinstance(group, AnnotationGroup):
        document = group.to_json()
    elif isinstance(group, Mapping):
        document = {
            "title": group.get("title"),
            "labels": group.get("labels", []),
            "linked": group.get("linked", False),
        }
    else:
        raise InvalidParameter(f"an annotation group must be a mapping, got {group!r}")
    if not isinstance(document["title"], str):
        raise InvalidParameter("an annotation group needs a string title")
    labels = document["labels"]
    if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
        raise InvalidParameter("annotation labels must be a list of strings")
    if not isinstance(document["linked"], bool):
        raise InvalidParameter("annotation linked must be True or False")
    document["labels"] = list(labels)
    return document
