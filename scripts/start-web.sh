#!/usr/bin/env bash
# Start the web process: apply migrations (unless PORTAL_MIGRATE_ON_START=0), then
# replace this shell with gunicorn so it receives the container's signals.
#
# Environment: PORT (8000), BIND_HOST (0.0.0.0), WEB_CONCURRENCY (2 workers),
# GUNICORN_TIMEOUT (60 s), FORWARDED_ALLOW_IPS (127.0.0.1,::1: proxies whose
# X-Forwarded-* headers gunicorn trusts), PORTAL_MIGRATE_ON_START (1), VENV (a
# virtualenv whose bin/ is put first on PATH). Anything else gunicorn accepts can be
# given in GUNICORN_CMD_ARGS.
#
# The workers are sync: each is held by one connection until its request has arrived, so
# clients must never reach gunicorn directly. Put the buffering nginx of deploy/nginx/ in
# front (compose.yaml does; see docs/deployment.md, "The front server").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -n "${VENV:-}" ]; then
    export PATH="$VENV/bin:$PATH"
fi

case "${PORTAL_MIGRATE_ON_START:-1}" in
    1 | true | yes | on)
        echo "[start-web] applying migrations"
        python manage.py migrate --noinput
        ;;
    *)
        echo "[start-web] PORTAL_MIGRATE_ON_START=${PORTAL_MIGRATE_ON_START}: not migrating"
        ;;
esac

args=(
    --bind "${BIND_HOST:-0.0.0.0}:${PORT:-8000}"
    --workers "${WEB_CONCURRENCY:-2}"
    --timeout "${GUNICORN_TIMEOUT:-60}"
    --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-30}"
    --keep-alive "${GUNICORN_KEEPALIVE:-5}"
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1,::1}"
    --access-logfile -
    --logger-class portal.log_masking.GunicornLogger
    --error-logfile -
)
# Worker heartbeats on a RAM disk: an overlay filesystem can stall them.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    args+=(--worker-tmp-dir /dev/shm)
fi

echo "[start-web] gunicorn on ${BIND_HOST:-0.0.0.0}:${PORT:-8000} with ${WEB_CONCURRENCY:-2} workers"
exec gunicorn portal.wsgi:application "${args[@]}"
