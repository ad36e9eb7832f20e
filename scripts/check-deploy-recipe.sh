#!/usr/bin/env bash
# Test the production recipe without Docker: the same scripts the Dockerfile runs
# (build.sh, start-web.sh, start-worker.sh), in a fresh virtualenv, in production mode
# (DJANGO_DEBUG unset), against a throw-away SQLite database and the ORM broker, with
# gunicorn behind the repo's nginx config (deploy/nginx/nginx.conf.template) as compose
# runs it; every page is checked through nginx, and slow clients must not delay /healthz.
# Like `docker build`, it builds from a copy of the build context (the repo minus
# .dockerignore), and checks the image would carry no development tool: no Clarius
# sandbox, no numpy or werkzeug (the sandbox's), no test or lint packages.
# CI runs it from .ci/run; it needs python3, nginx and the package index.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
python="${PYTHON:-python3}"

work="$(mktemp -d "${TMPDIR:-/tmp}/portal-deploy-check.XXXXXX")"
venv="$work/venv"
context="$work/context"
web_pid=""
nginx_pid=""
worker_pid=""
task_pid=""

log() { printf '[deploy-check] %s\n' "$*"; }

show_log() {
    if [ -s "$1" ]; then
        printf -- '----- last lines of %s -----\n' "$(basename "$1")" >&2
        tail -n 40 "$1" >&2
        printf -- '-----\n' >&2
    fi
}

fail() {
    printf '[deploy-check] FAIL: %s\n' "$*" >&2
    show_log "$work/web.log"
    show_log "$work/nginx.log"
    show_log "$work/worker.log"
    exit 1
}

# True while the process runs (a zombie, exited but not yet reaped, does not count).
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ]
}

# Stop a process started with setsid: TERM it, wait at most $2 seconds, then KILL its
# whole process group so nothing it forked survives.
stop() {
    local pid="$1" grace="${2:-20}" name="$3" i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        log "$name did not stop within ${grace}s; killing it"
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    stop "$task_pid" 5 task
    stop "$worker_pid" 20 worker
    stop "$nginx_pid" 10 nginx
    stop "$web_pid" 20 web
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# GET a URL; prints "<status> <content-type>" and saves the body to $2.
http_get() {
    "$venv/bin/python" - "$1" "$2" <<'PY'
import sys
import urllib.error
import urllib.request

url, out = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(url, timeout=5) as response:
        status, ctype, body = response.status, response.headers.get("Content-Type"), response.read()
except urllib.error.HTTPError as e:
    status, ctype, body = e.code, e.headers.get("Content-Type"), e.read()
except Exception as e:  # noqa: BLE001 - not answering yet
    status, ctype, body = 0, f"{type(e).__name__}", b""
with open(out, "wb") as f:
    f.write(body)
print(status, ctype or "-")
PY
}

# expect_get PATH STATUS [TEXT]: the web process answers PATH with STATUS (and a body
# containing TEXT).
expect_get() {
    local path="$1" want="$2" text="${3:-}" got
    got="$(http_get "$base$path" "$work/body")"
    if [ "${got%% *}" != "$want" ]; then
        head -c 2000 "$work/body" >&2 || true
        echo >&2
        fail "GET $path answered '$got', expected $want"
    fi
    if [ -n "$text" ] && ! grep -qi -- "$text" "$work/body"; then
        fail "GET $path: the response does not contain '$text'"
    fi
    log "GET $path -> $got"
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- 1. static checks of the recipe files ---------------------------------------------
log "checking Dockerfile and compose.yaml refer to executable scripts"
for f in Dockerfile compose.yaml .dockerignore deploy/nginx/nginx.conf.template; do
    [ -f "$f" ] || fail "$f is missing"
done
while read -r script; do
    [ -f "$script" ] || fail "$script (named in Dockerfile/compose.yaml) does not exist"
    [ -x "$script" ] || fail "$script is not executable (git update-index --chmod=+x $script)"
done < <(grep -ohE 'scripts/[A-Za-z0-9_.-]+\.sh' Dockerfile compose.yaml | sort -u)
for script in scripts/build.sh scripts/start-web.sh scripts/start-worker.sh \
    deploy/nginx/entrypoint.d/*.sh; do
    bash -n "$script" || fail "$script: syntax error"
done
for f in deploy/nginx/entrypoint.d/*.sh; do
    [ -x "$f" ] || fail "$f is not executable (the nginx image runs only executable ones)"
done
nginx="$(command -v nginx || command -v /usr/sbin/nginx || true)"
[ -n "$nginx" ] || fail "nginx is not installed (Debian: apt-get install nginx); .ci/run installs it"
log "front server: $("$nginx" -v 2>&1)"

if docker compose version >/dev/null 2>&1; then
    log "validating compose.yaml with docker compose config"
    DJANGO_SECRET_KEY=check docker compose -f compose.yaml config -q \
        || fail "docker compose config rejected compose.yaml"
elif "$python" -c 'import yaml' 2>/dev/null; then
    log "validating compose.yaml with PyYAML (docker compose is not available)"
    "$python" - compose.yaml <<'PY' || fail "compose.yaml is not valid"
import sys

import yaml

with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)
services = doc["services"]
missing = {"db", "redis", "web", "worker", "nginx"} - set(services)
assert not missing, f"services missing: {sorted(missing)}"
for name in ("web", "worker"):
    env = services[name]["environment"]
    for var in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "PORTAL_MEDIA_ROOT"):
        assert var in env, f"{name}: {var} not set"
assert services["web"]["depends_on"]["db"]["condition"] == "service_healthy"
assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
# Only nginx faces clients: gunicorn's sync workers must never be reachable directly.
published = sorted(name for name, s in services.items() if s.get("ports"))
assert published == ["nginx"], f"only nginx may publish ports, not {published}"
web_env = services["web"]["environment"]
assert str(web_env.get("PORTAL_TRUSTED_PROXY_COUNT")) == "1", "web: PORTAL_TRUSTED_PROXY_COUNT"
assert web_env.get("PORTAL_MEDIA_ACCEL_REDIRECT") == "/protected-media/", "web: accel redirect"
assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
print("compose.yaml: services", ", ".join(sorted(services)))
PY
else
    log "skipping compose.yaml validation (neither docker compose nor PyYAML available)"
fi

# --- 2. build ----------------------------------------------------------------------------
# The Dockerfile copies the build context (everything .dockerignore lets through) to /app
# and runs scripts/build.sh there: so does this check, in $context, and everything below
# runs from that copy, as the image does.
log "copying the build context (the repo minus .dockerignore) to $context"
"$python" - "$repo" "$context" <<'PY' || fail "could not copy the build context"
import os
import re
import shutil
import sys

repo, context = sys.argv[1], sys.argv[2]


def pattern_regex(pattern):
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex on relative paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


rules = []
with open(os.path.join(repo, ".dockerignore")) as f:
    for line in f:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, pattern_regex(pattern)))
can_prune = not any(negate for negate, _ in rules)


def excluded(path):
    """Docker's rule: the last matching pattern wins; a path matches via any parent."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            result = not negate
    return result


copied = 0
for top, dirs, files in os.walk(repo):
    rel_top = os.path.relpath(top, repo)
    rel_top = "" if rel_top == "." else rel_top + "/"
    if can_prune:
        dirs[:] = [d for d in dirs if not excluded(rel_top + d)]
    for name in files:
        rel = rel_top + name
        if excluded(rel):
            continue
        os.makedirs(os.path.join(context, rel_top), exist_ok=True)
        shutil.copy2(os.path.join(top, name), os.path.join(context, rel), follow_symlinks=False)
        copied += 1
print(f"[deploy-check]   {copied} files in the build context")
PY
for needed in manage.py pyproject.toml README.md portal integrations templates static \
    scripts/build.sh scripts/start-web.sh deploy/nginx/nginx.conf.template; do
    [ -e "$context/$needed" ] || fail "$needed is not in the build context (.dockerignore)"
done
for unwanted in clarius_sandbox tests bench .venv .git; do
    [ -e "$context/$unwanted" ] && fail "$unwanted/ is in the build context: .dockerignore must exclude it"
done
cd "$context"

log "building into a fresh virtualenv: scripts/build.sh $venv"
export DJANGO_STATIC_ROOT="$work/static"
scripts/build.sh "$venv" || fail "scripts/build.sh failed"
[ -f "$DJANGO_STATIC_ROOT/staticfiles.json" ] || fail "collectstatic wrote no manifest"
[ -f "$DJANGO_STATIC_ROOT/css/portal.css" ] || fail "css/portal.css was not collected"

log "checking the production virtualenv carries no development tool"
"$venv/bin/python" -m pip list --format=freeze >"$work/packages.txt" 2>/dev/null \
    || fail "pip list failed in the production virtualenv"
log "  $(wc -l <"$work/packages.txt") packages installed"
# The sandbox's own dependencies, the dev extras, and anything named after the sandbox.
for unwanted in numpy werkzeug pytest pytest-django playwright hypothesis ruff pypdf; do
    if grep -qi "^$unwanted==" "$work/packages.txt"; then
        fail "$unwanted is installed in the production virtualenv (sandbox or dev extra leaked)"
    fi
done
grep -qi sandbox "$work/packages.txt" && fail "a sandbox package is installed in production"
# Neither from the install nor from the working directory (/app in the image).
for dir in "$context" "$work"; do
    (cd "$dir" && "$venv/bin/python" -c '
import importlib.util, sys
for name in ("clarius_sandbox", "numpy", "werkzeug"):
    if importlib.util.find_spec(name) is not None:
        sys.exit(f"{name} is importable")
') || fail "the production virtualenv can import a development module (from $dir)"
done
log "  ok   no sandbox, numpy, werkzeug, pytest, playwright, hypothesis, ruff, pypdf"

log "running the build again (must be idempotent)"
scripts/build.sh "$venv" >"$work/rebuild.log" 2>&1 || {
    cat "$work/rebuild.log" >&2
    fail "scripts/build.sh failed the second time"
}

# --- 3. production environment -----------------------------------------------------------
# gunicorn on one port, nginx in front on two more (plain HTTP and TLS): the portal's
# address is nginx's, as in compose.yaml.
port="$(free_port)"
front_port="$(free_port)"
tls_port="$(free_port)"
base="http://127.0.0.1:$front_port"
direct="http://127.0.0.1:$port"
prod_env=(
    env -u DJANGO_DEBUG -u REDIS_URL -u DJANGO_ALLOWED_HOSTS
    DJANGO_SECRET_KEY="$("$python" -c 'import secrets; print(secrets.token_urlsafe(50))')"
    DATABASE_URL="sqlite:///$work/deploy.sqlite3"
    PORTAL_MEDIA_ROOT="$work/media"
    PORTAL_BASE_URL="$base"
    PORTAL_TRUSTED_PROXY_COUNT=1
    DJANGO_SECURE_PROXY_SSL_HEADER=1
    PORTAL_MEDIA_ACCEL_REDIRECT=/protected-media/
    DJANGO_ALLOWED_HOSTS=127.0.0.1
    DJANGO_STATIC_ROOT="$DJANGO_STATIC_ROOT"
    PORT="$port"
    BIND_HOST=127.0.0.1
    WEB_CONCURRENCY=2
    VENV="$venv"
)

log "production mode refuses to start without DJANGO_SECRET_KEY"
if "${prod_env[@]}" DJANGO_SECRET_KEY= PORTAL_MIGRATE_ON_START=1 \
    timeout 60 scripts/start-web.sh >"$work/nokey.log" 2>&1; then
    fail "start-web.sh started without DJANGO_SECRET_KEY"
fi
grep -q DJANGO_SECRET_KEY "$work/nokey.log" \
    || { cat "$work/nokey.log" >&2; fail "no error naming DJANGO_SECRET_KEY"; }

# --- 4. web ------------------------------------------------------------------------------
log "starting scripts/start-web.sh on $direct"
"${prod_env[@]}" setsid scripts/start-web.sh >"$work/web.log" 2>&1 &
web_pid=$!

deadline=$((SECONDS + 90))
until [ "$(http_get "$direct/healthz" "$work/body" | cut -d' ' -f1)" = 200 ]; do
    alive "$web_pid" || fail "the web process exited before answering /healthz"
    [ "$SECONDS" -lt "$deadline" ] || fail "/healthz did not answer 200 within 90s"
    sleep 1
done
log "web is up"
grep -q 'Applying\|No migrations to apply' "$work/web.log" || fail "start-web.sh did not migrate"

# nginx as root here (CI has no nginx user to spare), from the repo's template, with a
# self-signed certificate; in compose its workers run as the media files' owner.
log "starting nginx (deploy/nginx/nginx.conf.template) on $base and https://127.0.0.1:$tls_port"
mkdir -p "$work/media"
setsid "$venv/bin/python" scripts/nginx_front.py --dir "$work/nginx" \
    --http "127.0.0.1:$front_port" --https "127.0.0.1:$tls_port" \
    --upstream "127.0.0.1:$port" --media-root "$work/media" >"$work/nginx.log" 2>&1 &
nginx_pid=$!
deadline=$((SECONDS + 20))
until [ "$(http_get "$base/healthz" "$work/body" | cut -d' ' -f1)" = 200 ]; do
    alive "$nginx_pid" || fail "nginx exited before answering /healthz"
    [ "$SECONDS" -lt "$deadline" ] || fail "/healthz through nginx did not answer 200 within 20s"
    sleep 0.5
done
log "nginx is up; the checks below go through it"

expect_get /healthz 200 '"ok"'
expect_get /readyz 200 '"ok"'
expect_get /static/css/portal.css 200
hashed="$("$venv/bin/python" -c '
import json, sys
print(json.load(open(sys.argv[1]))["paths"]["css/portal.css"])' "$DJANGO_STATIC_ROOT/staticfiles.json")"
expect_get "/static/$hashed" 200
expect_get /accounts/login/ 200 password
expect_get /no-such-page-for-the-deploy-check/ 404
grep -q 'URLconf' "$work/body" && fail "the 404 page is Django's debug page: DEBUG is on"

# --- 5. the front server -----------------------------------------------------------------
log "checking nginx: TLS, headers, body limits, private media, the client's address"
mkdir -p "$work/media/deploy-check"
echo "private" >"$work/media/deploy-check/private.txt"
"$venv/bin/python" - "$base" "$tls_port" <<'PY' || fail "nginx does not front the portal as it should"
import http.cookiejar
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

base, tls_port = sys.argv[1], sys.argv[2]


def fetch(url, data=None, headers=None, opener=None, context=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        if opener is not None:
            response = opener.open(request, timeout=10)
        else:
            response = urllib.request.urlopen(request, timeout=10, context=context)
        with response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def expect(what, ok):
    print(f"[deploy-check]   {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        sys.exit(1)


unverified = ssl._create_unverified_context()  # the check's own self-signed certificate
status, _, body = fetch(f"https://127.0.0.1:{tls_port}/healthz", context=unverified)
expect(f"GET https://…/healthz -> {status}", status == 200 and b'"ok"' in body)

status, headers, _ = fetch(f"{base}/healthz")
expect(f"Server: {headers.get('Server')} (no version, not gunicorn)", headers["Server"] == "nginx")

status, _, body = fetch(f"{base}/protected-media/deploy-check/private.txt")
expect(f"GET /protected-media/… from outside -> {status}", status == 404 and b"private" not in body)

status, _, _ = fetch(f"{base}/clarius/notifications/x/", data=b"x" * (2 * 1024 * 1024))
expect(f"a 2 MiB body to the webhook -> {status} from nginx", status == 413)

# A failed login with a forged X-Forwarded-For: the portal must record nginx's view of
# the client (127.0.0.1), never the forged address (checked in the database below).
jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
status, _, body = fetch(f"{base}/accounts/login/", opener=jar)
token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
expect(f"GET /accounts/login/ -> {status} with a CSRF token", status == 200 and token)
form = {
    "csrfmiddlewaretoken": token[1].decode(),
    "username": "nobody@deploy-check.example",
    "password": "not-the-password",
}
status, _, body = fetch(
    f"{base}/accounts/login/",
    data=urllib.parse.urlencode(form).encode(),
    headers={"X-Forwarded-For": "203.0.113.7"},
    opener=jar,
)
expect(f"a wrong password with a forged X-Forwarded-For -> {status}", status == 200)
PY
ips="$("${prod_env[@]}" "$venv/bin/python" manage.py shell -c '
from axes.models import AccessAttempt
print(" ".join(sorted({str(a.ip_address) for a in AccessAttempt.objects.all()})))
' 2>"$work/ips.log" | tail -n 1)"
[ "$ips" = 127.0.0.1 ] || { cat "$work/ips.log" >&2; fail "the failed login was recorded from '$ips', not 127.0.0.1"; }
log "  ok   the portal saw the client as $ips, not the forged 203.0.113.7"

# Slow clients: more connections than gunicorn has workers, each trickling header bytes.
# Through nginx /healthz must not notice; straight to gunicorn (for contrast only) it waits.
log "slowloris probe: 10 connections trickling headers, /healthz timed meanwhile"
"$venv/bin/python" scripts/slowloris.py --port "$front_port" --connections 10 --seconds 5 \
    --max-seconds 1 --label "through nginx" || fail "slow clients delayed /healthz through nginx"
"$venv/bin/python" scripts/slowloris.py --port "$port" --connections 10 --seconds 5 \
    --label "gunicorn directly, for contrast (not a failure)" || true
alive "$web_pid" || fail "the web process exited"

# --- 6. worker ---------------------------------------------------------------------------
log "starting scripts/start-worker.sh"
"${prod_env[@]}" setsid scripts/start-worker.sh >"$work/worker.log" 2>&1 &
worker_pid=$!

log "enqueueing a task and waiting (at most 60s) for the worker to run it"
"${prod_env[@]}" setsid timeout 90 "$venv/bin/python" manage.py shell -c '
from django_q.tasks import async_task, result
task_id = async_task("math.floor", 41.5)
print("result:", result(task_id, wait=60000))
' >"$work/task.log" 2>&1 &
task_pid=$!
while alive "$task_pid"; do
    alive "$worker_pid" || fail "the worker exited"
    sleep 0.5
done
wait "$task_pid" || {
    cat "$work/task.log" >&2
    fail "could not enqueue a task"
}
task_pid=""
grep -q 'result: 41$' "$work/task.log" || {
    cat "$work/task.log" >&2
    fail "the worker did not run the task within 60s"
}
log "the worker ran the task"
alive "$worker_pid" || fail "the worker exited"
sleep 3
alive "$worker_pid" || fail "the worker exited"
log "worker is still running"

# --- 7. shutdown -------------------------------------------------------------------------
log "stopping worker, nginx and web"
stop "$worker_pid" 30 worker
worker_pid=""
stop "$nginx_pid" 10 nginx
nginx_pid=""
stop "$web_pid" 30 web
web_pid=""

log "OK: build, web behind nginx (health, readiness, static, login, slow clients) and worker all work"
