"""The "fhir" destination kind: each report version POSTed to a FHIR R4 server as a
transaction Bundle (``bundle.transaction``).

Authentication is a bearer token: the destination's secret itself, or, when a token URL
is set, one fetched with the OAuth2 client-credentials grant (the secret is then the
client secret, sent with the client ID by HTTP Basic as RFC 6749 §2.3.1 has every server
accept) and kept until shortly before it expires. The access token goes only to the
FHIR server's own URL and the client secret only to the token URL: redirects are never
followed (a 3xx is a failure that names where it pointed), and the environment's proxy
and ``.netrc`` settings are not read (``trust_env`` off), so nothing adds or moves a
credential.

What an answer means:

- 200/201 with a ``transaction-response`` Bundle: sent; the remote answer is the
  DiagnosticReport's location (``DiagnosticReport/123/_history/2``).
- 401/403: the cached token is dropped and a new one fetched, once; still refused →
  a failure retried by the policy (a person may fix the secret meanwhile).
- 400, 409, 412, 413, 422: the server refused this Bundle (its OperationOutcome's text is
  the error); sending the same again cannot help, so the row fails at once (permanent).
  "Resend" on the destination page tries again after the server is fixed.
- Other answers, no answer, a timeout: retried by the policy.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import requests
from pydantic import ValidationError

from integrations.fhir import bundle
from portal.outbound import kinds
from portal.text import clean_text

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0  # a transaction with a large PDF may take the server a while
ANSWER_LIMIT = 2 * 1024 * 1024  # bytes of an answer read at most
USER_AGENT = "Clarius-Portal-FHIR/1"
TOKEN_MARGIN = 30  # seconds before its expiry a token is no longer used
DEFAULT_TOKEN_LIFETIME = 300  # when the token endpoint says nothing
PERMANENT = {400, 409, 412, 413, 422}
ERROR_LIMIT = 500


# -- settings -----------------------------------------------------------------------------


def base_url(destination) -> str:
    return (destination.option("url") or "").strip().rstrip("/")


def describe(destination) -> str:
    """The base URL without any user name or password it might carry."""
    url = base_url(destination)
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc credentials from the environment
    session.headers["User-Agent"] = USER_AGENT
    return session


# -- tokens -------------------------------------------------------------------------------

_tokens: dict[tuple, tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _token_key(destination) -> tuple:
    # The settings are part of the key: a changed secret or URL never reuses a token.
    return (
        destination.pk,
        destination.option("token_url") or "",
        destination.option("client_id") or "",
        destination.option("scope") or "",
        destination.secret_encrypted,
    )


def forget_token(destination) -> None:
    with _tokens_lock:
        _tokens.pop(_token_key(destination), None)


def access_token(destination, session: requests.Session) -> str:
    """The bearer token to send: the secret itself, or a client-credentials token."""
    token_url = (destination.option("token_url") or "").strip()
    if not token_url:
        return destination.secret
    key = _token_key(destination)
    with _tokens_lock:
        cached = _tokens.get(key)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    token, lifetime = _fetch_token(destination, token_url, session)
    with _tokens_lock:
        _tokens[key] = (token, time.monotonic() + max(lifetime - TOKEN_MARGIN, 0))
    return token


def _fetch_token(destination, token_url: str, session: requests.Session) -> tuple[str, int]:
    client_id = (destination.option("client_id") or "").strip()
    if not client_id:
        raise kinds.DeliveryFailed(
            "A token URL is set but no client ID: add the client ID the server gave you.",
            permanent=True,
        )
    form = {"grant_type": "client_credentials"}
    if scope := (destination.option("scope") or "").strip():
        form["scope"] = scope
    try:
        response = session.post(
            token_url,
            data=form,
            auth=(client_id, destination.secret),
            headers={"Accept": "application/json"},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as e:
        raise kinds.DeliveryFailed(
            f"No answer from the token URL {_origin(token_url)}: {_reason(e)}"
        ) from None
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        said = ""
        if isinstance(body, dict):
            said = " ".join(str(body.get(k)) for k in ("error", "error_description") if body.get(k))
        raise kinds.DeliveryFailed(
            f"The token URL refused the client credentials ({response.status_code}"
            + (f": {_clip(said)}" if said else "")
            + "): check the client ID and secret."
        )
    lifetime = body.get("expires_in")
    try:
        lifetime = int(lifetime)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    return str(body["access_token"]), lifetime


# -- answers ------------------------------------------------------------------------------


def _clip(text: str) -> str:
    return clean_text(text, max_length=ERROR_LIMIT).strip()


def _reason(error: Exception) -> str:
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return _clip(f"{type(error).__name__}: {error}")


def _json(response: requests.Response):
    try:
        return json.loads(response.content[:ANSWER_LIMIT])
    except ValueError:
        return None


def outcome_text(body) -> str:
    """What an OperationOutcome says, issue by issue."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    said = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
        text = issue.get("diagnostics") or details.get("text") or issue.get("code") or ""
        if text:
            said.append(str(text))
    return _clip("; ".join(said))


def _refused(response: requests.Response, what: str) -> kinds.DeliveryFailed:
    status = response.status_code
    if 300 <= status < 400:
        where = _clip(response.headers.get("Location", ""))
        return kinds.DeliveryFailed(
            f"The server answered {status} with a redirect"
            + (f" to {where}" if where else "")
            + ": set the destination's URL to the server's own base URL (redirects are not "
            "followed, so the token never goes elsewhere)."
        )
    said = outcome_text(_json(response)) or _clip(response.text[:ERROR_LIMIT])
    message = f"The FHIR server refused {what} ({status}" + (f": {said}" if said else "") + ")"
    if status in (401, 403):
        return kinds.DeliveryFailed(message + ": check the token or the client credentials.")
    if status in PERMANENT:
        return kinds.DeliveryFailed(message + ".", permanent=True)
    return kinds.DeliveryFailed(message + ".")


def _with_token(destination, session, call):
    """``call(headers)``, and once more with a fresh token after a 401 or 403."""
    token = access_token(destination, session)
    response = call({"Authorization": f"Bearer {token}"} if token else {})
    if response.status_code in (401, 403) and destination.option("token_url"):
        forget_token(destination)
        token = access_token(destination, session)
        response = call({"Authorization": f"Bearer {token}"})
    return response


# -- the kind -----------------------------------------------------------------------------


def send(transmission) -> str:
    """POST the report version as a transaction; the DiagnosticReport's location."""
    destination = transmission.destination
    report = transmission.report
    if report is None:
        raise kinds.DeliveryFailed("A FHIR server takes reports only.", permanent=True)
    pdf = bundle.read_pdf(report)
    if pdf is None:
        raise kinds.DeliveryFailed("The report's PDF is not there yet.")
    status = bundle.STATUS_OF_RESULT.get(transmission.result_status) or None
    data = bundle.transaction(
        transmission.exam,
        report=report,
        status=status,
        pdf=pdf,
        mrn_system=(destination.option("mrn_system") or "").strip(),
    )
    try:
        bundle.validate(data)
    except ValidationError as e:
        raise kinds.DeliveryFailed(
            f"The exam does not make a valid FHIR R4 Bundle: {_clip(str(e))}", permanent=True
        ) from None
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    url = base_url(destination)
    session = _session()

    def post(headers):
        return session.post(
            url,
            data=body,
            headers={
                "Content-Type": bundle.CONTENT_TYPE,
                "Accept": bundle.CONTENT_TYPE,
                **headers,
            },
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )

    try:
        response = _with_token(destination, session, post)
    except requests.RequestException as e:
        raise kinds.DeliveryFailed(f"No answer from {_origin(url)}: {_reason(e)}") from None
    finally:
        session.close()
    if response.status_code not in (200, 201):
        raise _refused(response, "the report")
    answer = _json(response)
    if not isinstance(answer, dict) or answer.get("type") != "transaction-response":
        raise kinds.DeliveryFailed(
            f"The server answered {response.status_code} without a transaction-response "
            "Bundle: is the URL the FHIR server's base URL?"
        )
    index = next(
        (
            i
            for i, e in enumerate(data["entry"])
            if e["resource"]["resourceType"] == "DiagnosticReport"
        ),
        None,
    )
    location, said = _entry_answer(answer, index)
    if location:
        # What the EHR calls it, to the resource's id (without the version), if it fits.
        short = "/".join(location.split("/_history/")[0].rstrip("/").split("/")[-2:])
        transmission.uid = short if len(short) <= 64 else ""
    return f"{location or 'Accepted'} ({said or response.status_code})"


def _entry_answer(answer: dict, index: int | None) -> tuple[str, str]:
    """The location and status the server gave the DiagnosticReport's entry."""
    entries = answer.get("entry")
    if index is None or not isinstance(entries, list) or index >= len(entries):
        return "", ""
    entry = entries[index]
    reply = entry.get("response") if isinstance(entry, dict) else None
    if not isinstance(reply, dict):
        return "", ""
    return _clip(str(reply.get("location") or "")), _clip(str(reply.get("status") or ""))


def test(destination) -> str:
    """Read the server's CapabilityStatement: its FHIR version and how long it took."""
    url = base_url(destination)
    session = _session()

    def get(headers):
        return session.get(
            f"{url}/metadata",
            headers={"Accept": bundle.CONTENT_TYPE, **headers},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )

    started = time.monotonic()
    try:
        response = _with_token(destination, session, get)
    except requests.RequestException as e:
        raise kinds.DeliveryFailed(f"No answer from {_origin(url)}: {_reason(e)}") from None
    finally:
        session.close()
    elapsed = round((time.monotonic() - started) * 1000)
    if response.status_code != 200:
        raise _refused(response, "the metadata read")
    body = _json(response)
    if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
        raise kinds.DeliveryFailed(
            "The server's metadata is not a CapabilityStatement: is the URL the FHIR "
            "server's base URL?"
        )
    version = _clip(str(body.get("fhirVersion") or "of an unknown version"))
    said = f"FHIR {version} server answered in {elapsed} ms"
    if not version.startswith("4.0"):
        said += " (this destination sends FHIR R4, 4.0.1)"
    return said


KIND = kinds.Kind(
    key="fhir",
    label="FHIR R4 server",
    carries=kinds.REPORT,
    send=send,
    test=test,
    describe=describe,
    options=(
        kinds.Option("url", "Base URL", type="url", required=True, help="The server's FHIR base."),
        kinds.Option(
            "token_url",
            "OAuth2 token URL",
            type="url",
            help="For OAuth2 client credentials; empty when the secret is a bearer token.",
        ),
        kinds.Option("client_id", "OAuth2 client ID", help="With a token URL."),
        kinds.Option(
            "scope", "OAuth2 scope", help="What to ask the token URL for, if it needs it."
        ),
        kinds.Option(
            "mrn_system",
            "MRN system",
            help="The URI of the hospital's medical record numbers, so the server matches "
            "the patient by it; empty: the patient is matched by the portal's own identifier.",
        ),
    ),
    secret_label="Bearer token or client secret",
    secret_flag="--token",
    help="Each report version as a FHIR R4 transaction: patient, imaging study, diagnostic "
    "report with its PDF, and the worksheet's answers.",
    help_template="fhir/destination_help.html",
)
