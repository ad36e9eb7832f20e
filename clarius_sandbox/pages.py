"""The sandbox's web page: the part of Clarius Cloud a clinician would click through.

One server-rendered page (no CDN, no script) plays the clinician: add users, press
**Connect** (Profile → Services → Connect, which sends the browser to the partner's
token transfer URL), upload exams, and read the reports the partner sent back (the
exam page's "Services" modal). Mutations are POST forms answered with a redirect.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .patients import display_name
from .state import SandboxExam, SandboxUser

if TYPE_CHECKING:
    from .server import Sandbox

_routes = Map(
    [
        Rule("/sandbox/", methods=["GET"], endpoint="home"),
        Rule("/sandbox/users", methods=["POST"], endpoint="add_user"),
        Rule("/sandbox/users/<token>/connect", methods=["GET"], endpoint="connect"),
        Rule("/sandbox/users/<token>/exams", methods=["POST"], endpoint="upload"),
        Rule("/sandbox/captures/<capture_uuid>", methods=["GET"], endpoint="capture"),
        Rule("/sandbox/reports/<report_id>", methods=["GET"], endpoint="report"),
        Rule("/sandbox/reset", methods=["POST"], endpoint="reset"),
    ]
)

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 72rem;
       padding: 1rem 2rem; color: #1d2430; }
header { border-bottom: 3px solid #0a7ea4; margin-bottom: 1rem; }
h1 { margin: .3rem 0; } h2 { margin-top: 2rem; color: #0a5d7a; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #dde3ea;
         vertical-align: top; }
code { font-size: 13px; background: #f1f4f7; padding: 0 .25rem; }
form.inline { display: inline; } button { cursor: pointer; }
.muted { color: #5f6b7a; } .ok { color: #16794c; } .bad { color: #b3261e; }
article.exam { border: 1px solid #dde3ea; border-radius: 6px; padding: .5rem 1rem;
               margin: .75rem 0; }
input[type=number] { width: 4rem; }
.scroll { overflow-x: auto; } .scroll:focus { outline: 2px solid #0a7ea4; }
code { overflow-wrap: anywhere; }
@media (max-width: 600px) { body { padding: .75rem; } }
"""


def when(moment: dt.datetime | None) -> str:
    """A timestamp for people: ``2026-11-28 10:52:24 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def scrolling(label: str, table: str) -> str:
    """A wide table in a box that scrolls sideways on a narrow screen (focusable, so a
    keyboard can scroll it too), instead of widening the page."""
    return f"<div class=scroll tabindex=0 role=region aria-label='{label}'>{table}</div>"


def mask(token: str) -> str:
    return f"{token[:6]}…{token[-4:]}"


def _page(title: str, body: str, header: str = "") -> Response:
    # Landmarks as on any page: the banner (when there is one) and the main content.
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{header}<main>{body}</main></body></html>"
    )
    return Response(html, mimetype="text/html")


class PagesApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def __call__(self, request: Request) -> Response:
        if request.method == "POST" and not self._same_origin(request):
            # A page on another site must not be able to press our buttons.
            return Response("Cross-origin form refused.", status=403)
        try:
            endpoint, values = _routes.bind_to_environ(request.environ).match()
        except HTTPException as e:
            return e.get_response(request.environ)
        return getattr(self, endpoint)(request, **values)

    @staticmethod
    def _same_origin(request: Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or origin == "null" or urlsplit(origin).netloc == request.host

    # --- actions ----------------------------------------------------------------------------

    def add_user(self, request: Request) -> Response:
        name = request.form.get("name", "").strip() or "Clinician"
        email = request.form.get("email", "").strip() or None
        self.sandbox.add_user(name, email, research_bundle=bool(request.form.get("research")))
        return redirect("/sandbox/#users", 303)

    def connect(self, request: Request, token: str) -> Response:
        state = self.sandbox.state
        with state.lock:
            user = state.users.get(token)
            target = state.settings["token_transfer_url"]
        if user is None:
            return _page("No such user", "<p>No such user. <a href='/sandbox/'>Back</a></p>")
        if not target:
            return _page(
                "No token transfer URL",
                "<h1>Nothing to connect to yet</h1><p>The service has not registered a "
                "<code>token_transfer_url</code>. Register one with "
                "<code>PATCH services/settings/</code> (the portal's "
                "<code>manage.py clarius register</code> does it), then press Connect again.</p>"
                "<p><a href='/sandbox/'>Back to the sandbox</a></p>",
            )
        return redirect(target.replace("{token}", user.customer_token), 302)

    def upload(self, request: Request, token: str) -> Response:
        def number(name: str, default: int) -> int:
            try:
                return max(0, min(20, int(request.form.get(name, default))))
            except ValueError:
                return default

        try:
            submission = self.sandbox.upload_exam(
                token,
                captures=number("captures", 3),
                videos=number("videos", 1),
                animal=bool(request.form.get("animal")),
                exam_uuid=request.form.get("exam_uuid") or None,
            )
        except KeyError:
            return _page("No such user", "<p>No such user. <a href='/sandbox/'>Back</a></p>")
        return redirect(f"/sandbox/#exam-{submission.exam_uuid}", 303)

    def capture(self, request: Request, capture_uuid: str) -> Response:
        with self.sandbox.state.lock:
            capture = self.sandbox.state.captures.get(capture_uuid)
        if capture is None:
            return Response("No such capture.", status=404)
        return redirect(self.sandbox.links.capture(capture), 302)

    def report(self, request: Request, report_id: str) -> Response:
        with self.sandbox.state.lock:
            report = self.sandbox.state.reports.get(report_id)
        if report is None:
            return Response("No such report.", status=404)
        response = Response(report.data, mimetype=report.content_type)
        filename = report.filename.replace('"', "")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return redirect("/sandbox/", 303)

    # --- the page ---------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        state = self.sandbox.state
        with state.lock:
            body = "".join(
                [
                    self._settings(),
                    self._users(list(state.users.values())),
                    self._exams(list(state.exams.values())),
                    self._records(),
                    self._keys(),
                ]
            )
        return _page("Clarius Cloud sandbox", body, header=self._header())

    def _header(self) -> str:
        s = self.sandbox
        return (
            "<header><h1>Clarius Cloud sandbox</h1>"
            "<p class=muted>A simulated Clarius Cloud for development and tests. Nothing here "
            "is real patient data.</p>"
            f"<p>API: <code>{escape(s.api_url)}</code> · media origin: "
            f"<code>{escape(s.media_origin)}</code> · API key prefix: "
            f"<code>{escape(s.api_key.partition('.')[0])}</code></p>"
            "<form class=inline method=post action='/sandbox/reset'>"
            "<button>Reset the sandbox</button></form></header>"
        )

    def _settings(self) -> str:
        settings = self.sandbox.state.settings
        rows = "".join(
            f"<tr><th>{name}</th><td>"
            + (f"<code>{escape(value)}</code>" if value else "<span class=muted>not set</span>")
            + "</td></tr>"
            for name, value in settings.items()
        )
        table = scrolling("Service settings", f"<table>{rows}</table>")
        return f"<section><h2>Service settings</h2>{table}</section>"

    def _users(self, users: list[SandboxUser]) -> str:
        rows = "".join(self._user_row(u) for u in users) or (
            "<tr><td colspan=5 class=muted>No users yet: add one below.</td></tr>"
        )
        table = scrolling(
            "Users",
            "<table><thead><tr><th>User</th>"
            "<th>Customer token</th><th>Linked</th><th>Connect</th><th>Upload an exam</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>",
        )
        return (
            f"<section id=users><h2>Users</h2>{table}"
            "<h3>Add user</h3><form method=post action='/sandbox/users'>"
            "<label>Name <input name=name required placeholder='Dr. Jane Doe'></label> "
            "<label>Email <input name=email type=email placeholder='optional'></label> "
            "<label><input type=checkbox name=research value=1> Research Bundle</label> "
            "<button>Add user</button></form></section>"
        )

    def _user_row(self, user: SandboxUser) -> str:
        token = escape(user.customer_token)
        linked = (
            f"<span class=ok>confirmed {when(user.confirmed_at)}</span>"
            if user.confirmed_at
            else "<span class=muted>not confirmed</span>"
        )
        bundle = " · Research Bundle" if user.research_bundle else ""
        return (
            f"<tr><td>{escape(user.name)}<br>"
            f"<span class=muted>{escape(user.email)}{bundle}</span></td>"
            f"<td><details><summary><code>{escape(mask(user.customer_token))}</code></summary>"
            f"<code>{token}</code></details></td><td>{linked}</td>"
            f"<td><form method=get action='/sandbox/users/{token}/connect'>"
            "<button>Connect</button></form></td>"
            f"<td><form method=post action='/sandbox/users/{token}/exams'>"
            "<label>images <input type=number name=captures value=3 min=0 max=20></label> "
            "<label>videos <input type=number name=videos value=1 min=0 max=20></label> "
            "<label><input type=checkbox name=animal value=1> animal</label> "
            "<button>Upload exam</button></form></td></tr>"
        )

    def _exams(self, exams: list[SandboxExam]) -> str:
        state = self.sandbox.state
        if not exams:
            return "<section id=exams><h2>Exams</h2><p class=muted>No exams yet.</p></section>"
        articles = []
        for exam in reversed(exams):
            user = state.users[exam.customer_token]
            patient = escape(display_name(exam.patient) or "(no name)")
            captures = " ".join(
                f"<a href='/sandbox/captures/{c.capture_uuid}'>{c.kind} {n}</a>"
                for n, c in enumerate(exam.captures, 1)
            )
            submissions = "".join(self._submission(r) for r in exam.request_uuids)
            processing = " · <em>processing</em>" if exam.processing else ""
            articles.append(
                f"<article class=exam id='exam-{escape(exam.exam_uuid)}'>"
                f"<h3>{escape(exam.application)} — {patient}</h3>"
                f"<p class=muted>exam <code>{escape(exam.exam_uuid)}</code> by "
                f"{escape(user.name)}{processing}</p><p>Captures: {captures}</p>"
                f"<h4>Submissions and Services</h4><ul>{submissions}</ul>"
                f"<form method=post action='/sandbox/users/{escape(exam.customer_token)}/exams'>"
                f"<input type=hidden name=exam_uuid value='{escape(exam.exam_uuid)}'>"
                "<input type=hidden name=captures value=1><input type=hidden name=videos value=0>"
                "<button>Resubmit with one more image</button></form></article>"
            )
        return f"<section id=exams><h2>Exams</h2>{''.join(articles)}</section>"

    def _submission(self, request_uuid: str) -> str:
        request = self.sandbox.state.requests[request_uuid]
        reports = "".join(
            f"<li><a href='/sandbox/reports/{r.report_id}'>{escape(r.name)}</a> "
            f"<span class=muted>{escape(r.filename)}, {len(r.data):,} bytes, "
            f"received {when(r.received_at)}</span></li>"
            for r in request.reports
        )
        reports = reports or "<li class=muted>No reports from the service yet.</li>"
        return (
            f"<li>request <code>{escape(request_uuid)}</code> submitted "
            f"{when(request.submitted_at)}<ul>{reports}</ul></li>"
        )

    def _records(self) -> str:
        records = self.sandbox.state.records_newest_first()[:20]
        rows = []
        for record in records:
            if record.response is not None:
                css = "ok" if record.delivered else "bad"
                outcome = f"<span class={css}>HTTP {record.response['status_code']}</span>"
            else:
                outcome = f"<span class=bad>{escape(record.error or 'no response')}</span>"
            rows.append(
                f"<tr><td>{when(record.logged_at)}</td>"
                f"<td><code>{escape(record.url)}</code></td>"
                f"<td><code>{escape(record.request_uuid)}</code></td><td>{outcome}</td></tr>"
            )
        body = "".join(rows) or "<tr><td colspan=4 class=muted>None sent yet.</td></tr>"
        table = scrolling(
            "Recent notifications",
            "<table><thead><tr><th>Logged</th><th>URL</th><th>Request</th><th>Outcome</th>"
            f"</tr></thead><tbody>{body}</tbody></table>",
        )
        return f"<section><h2>Recent notifications</h2>{table}</section>"

    def _keys(self) -> str:
        rows = "".join(
            f"<tr><td><code>{escape(k.prefix)}</code></td><td>{escape(k.name)}</td>"
            f"<td>{when(k.created)}</td></tr>"
            for k in self.sandbox.state.api_keys.values()
        )
        table = scrolling(
            "Service API keys",
            "<table><thead><tr><th>Prefix</th><th>Name</th>"
            f"<th>Created</th></tr></thead><tbody>{rows}</tbody></table>",
        )
        return f"<section><h2>Service API keys</h2>{table}</section>"
