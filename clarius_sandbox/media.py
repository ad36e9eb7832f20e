"""The media origin: pre-signed links to captures, raw data and DICOM exports.

It plays the part of the cloud storage bucket behind Clarius Cloud: a different origin
from the API, access by signature only, S3-style XML errors. A request that carries an
``Authorization`` header is refused (S3 answers 400 to two auth mechanisms at once) and
remembered in ``state.leaked_credentials``: the portal must never send its Service API
key to a host other than the API's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from xml.sax.saxutils import escape

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import dicom, rawdata, video
from .imaging import jpeg_cache
from .signing import LinkSigner
from .state import DicomExport, SandboxCapture, SandboxState

BUCKET = "/clarius-exports"

_routes = Map(
    [
        Rule(f"{BUCKET}/captures/<capture_uuid>.<ext>", endpoint="capture"),
        Rule(f"{BUCKET}/rawdata/<capture_uuid>.tar", endpoint="rawdata"),
        Rule(f"{BUCKET}/dicom/<export_id>.dcm", endpoint="dicom"),
    ]
)


class MediaLinks:
    """Mints signed links; each call gives a fresh link with a fresh expiry."""

    def __init__(self, signer: LinkSigner, state: SandboxState) -> None:
        self.signer = signer
        self.state = state

    def capture(self, capture: SandboxCapture) -> str:
        path = f"{BUCKET}/captures/{capture.capture_uuid}.{capture.extension}"
        return self.signer.sign(path, self.state.capture_link_ttl)

    def rawdata(self, capture: SandboxCapture) -> str:
        path = f"{BUCKET}/rawdata/{capture.capture_uuid}.tar"
        return self.signer.sign(path, self.state.research_link_ttl)

    def dicom(self, export: DicomExport) -> str:
        path = f"{BUCKET}/dicom/{export.export_id}.dcm"
        return self.signer.sign(path, self.state.research_link_ttl)


def s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(body, status=status, content_type="application/xml")


class MediaApp:
    def __init__(self, state: SandboxState, signer: LinkSigner) -> None:
        self.state = state
        self.signer = signer

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.headers.get("Authorization"):
            self._remember_leak(request)
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
            )
        try:
            endpoint, values = _routes.bind_to_environ(request.environ).match()
        except HTTPException:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if request.method not in ("GET", "HEAD"):
            return s3_error(405, "MethodNotAllowed", "The specified method is not allowed.")
        refusal = self.signer.check(
            request.path, request.args.get("Expires"), request.args.get("Signature")
        )
        if refusal:
            return s3_error(403, "AccessDenied", refusal)
        handler = getattr(self, f"_{endpoint}")
        return handler(**values)

    def _remember_leak(self, request: Request) -> None:
        scheme, _, credential = request.headers["Authorization"].partition(" ")
        with self.state.lock:
            self.state.leaked_credentials.append(
                {"path": request.path, "scheme": scheme, "credential": credential[:8] + "***"}
            )

    def _find_capture(self, capture_uuid: str) -> SandboxCapture | None:
        with self.state.lock:
            return self.state.captures.get(capture_uuid)

    def _capture(self, capture_uuid: str, ext: str) -> Response:
        capture = self._find_capture(capture_uuid)
        if capture is None or ext != capture.extension:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if capture.kind == "padded":
            assert capture.size is not None
            # Streamed: Content-Length up front, bytes generated chunk by chunk.
            response = Response(
                video.stream_padded_capture(capture.size),
                mimetype=capture.content_type,
                direct_passthrough=True,
            )
            response.headers["Content-Length"] = str(capture.size)
            return response
        if capture.kind == "video":
            data = video.capture_clip(capture.seed, capture.capture_uuid.encode())
        else:
            data = jpeg_cache.get(capture.seed)
        return Response(data, mimetype=capture.content_type)

    def _rawdata(self, capture_uuid: str) -> Response:
        capture = self._find_capture(capture_uuid)
        if capture is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        with self.state.lock:
            exam = self.state.exams[capture.exam_uuid]
        return Response(rawdata.raw_archive(capture, exam), mimetype="application/x-tar")

    def _dicom(self, export_id: str) -> Response:
        with self.state.lock:
            export = self.state.dicom_exports.get(export_id)
            exam = self.state.exams.get(export.exam_uuid) if export else None
            user = self.state.users.get(exam.customer_token) if exam else None
        if export is None or exam is None or user is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        response = Response(dicom.build(export, exam, user), mimetype="application/dicom")
        response.headers["Content-Disposition"] = f'attachment; filename="{export_id}.dcm"'
        return response
