"""A small FHIR server for the destination tests, on a free port of 127.0.0.1.

It takes transaction Bundles at its base URL (``/fhir``) the way a FHIR server does:
the Patient by conditional create (``ifNoneExist``), the other resources by conditional
update (``PUT Type?identifier=…``), each kept by its identifier, with an id and a
version; it answers a ``transaction-response`` Bundle with each entry's status and
location. ``GET /fhir/metadata`` is a CapabilityStatement. ``POST /token`` is an OAuth2
token endpoint for the client-credentials grant (HTTP Basic client authentication).

Every request must carry a bearer token the server issued (or ``static_token``);
``answers`` queues what the next transaction gets instead (a status, optionally with an
OperationOutcome's text, or ``"hang"``: no answer for ``hang_seconds``); ``revoke()``
makes the tokens issued so far invalid.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote


class FhirServer:
    def __init__(self, *, client_id="portal", client_secret="s3cret", static_token=""):
        self.client_id, self.client_secret = client_id, client_secret
        self.static_token = static_token
        self.tokens: set[str] = set()
        self.token_requests: list[dict] = []
        self.requests: list[dict] = []
        self.answers: list = []  # (status, text) or status, for the next transactions
        self.expires_in = 3600
        self.stored: dict[tuple[str, str], dict] = {}  # (type, identifier) -> resource
        self.versions: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.hang_seconds = 5.0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self._record(b""))
                if not server.authorised(self.headers.get("Authorization", "")):
                    return self._send(401, outcome("invalid or expired token", "login"))
                if self.path == "/fhir/metadata":
                    return self._send(
                        200,
                        {
                            "resourceType": "CapabilityStatement",
                            "status": "active",
                            "kind": "instance",
                            "fhirVersion": "4.0.1",
                            "format": ["application/fhir+json"],
                        },
                    )
                return self._send(404, outcome("no such resource", "not-found"))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/token":
                    return self._token(body)
                server.requests.append(self._record(body))
                if self.path != "/fhir":
                    return self._send(404, outcome("no such endpoint", "not-found"))
                if not server.authorised(self.headers.get("Authorization", "")):
                    return self._send(401, outcome("invalid or expired token", "login"))
                if server.answers and server.answers[0] == "hang":
                    server.answers.pop(0)
                    server.release.wait(server.hang_seconds)  # the client gives up first
                elif server.answers:
                    answer = server.answers.pop(0)
                    status, text = answer if isinstance(answer, tuple) else (answer, "")
                    if status >= 300:
                        return self._send(status, outcome(text or "refused", "invalid"))
                bundle = json.loads(body)
                if bundle.get("type") != "transaction":
                    return self._send(400, outcome("not a transaction", "invalid"))
                return self._send(200, server.transact(bundle))

            def _token(self, body):
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                auth = self.headers.get("Authorization", "")
                server.token_requests.append({"form": form, "authorization": auth})
                expected = base64.b64encode(
                    f"{server.client_id}:{server.client_secret}".encode()
                ).decode()
                if form.get("grant_type") != "client_credentials":
                    return self._send(400, {"error": "unsupported_grant_type"})
                if auth != f"Basic {expected}":
                    return self._send(
                        401, {"error": "invalid_client", "error_description": "bad secret"}
                    )
                token = f"token-{len(server.token_requests)}"
                server.tokens.add(token)
                return self._send(
                    200,
                    {
                        "access_token": token,
                        "token_type": "bearer",
                        "expires_in": server.expires_in,
                    },
                )

            def _record(self, body):
                return {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                }

            def _send(self, status, document):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/fhir"
        self.token_url = f"http://127.0.0.1:{self.port}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def authorised(self, header: str) -> bool:
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        return bool(token) and (token in self.tokens or token == self.static_token)

    def revoke(self):
        self.tokens.clear()

    def transactions(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if r["method"] == "POST"]

    def of_type(self, kind: str) -> list[dict]:
        return [r for (t, _), r in self.stored.items() if t == kind]

    def transact(self, bundle: dict) -> dict:
        replies = []
        with self.lock:
            for entry in bundle["entry"]:
                request, resource = entry["request"], entry["resource"]
                kind = resource["resourceType"]
                if request["method"] == "POST":
                    key = (kind, unquote(request["ifNoneExist"].partition("=")[2]))
                    created = key not in self.stored
                    if created:
                        self._store(key, resource)
                else:
                    assert request["method"] == "PUT" and request["url"].startswith(f"{kind}?")
                    key = (kind, unquote(request["url"].partition("identifier=")[2]))
                    created = key not in self.stored
                    self._store(key, resource)
                stored = self.stored[key]
                replies.append(
                    {
                        "response": {
                            "status": "201 Created" if created else "200 OK",
                            "location": f"{kind}/{stored['id']}/_history/{self.versions[key]}",
                        }
                    }
                )
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": replies}

    def _store(self, key, resource):
        number = len(self.stored) + 1 if key not in self.stored else None
        identity = self.stored[key]["id"] if number is None else str(number)
        self.versions[key] = self.versions.get(key, 0) + 1
        self.stored[key] = {**resource, "id": identity}


def outcome(text: str, code: str) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
