# syntax=docker/dockerfile:1
# The portal's production image. Build and start steps only call scripts in the repo,
# which CI exercises without Docker (scripts/check-deploy-recipe.sh).
#   docker build -t clarius-portal .
#   docker run -e DJANGO_SECRET_KEY=... -e DATABASE_URL=... -p 127.0.0.1:8000:8000 clarius-portal
# The image holds the portal only: .dockerignore keeps the Clarius sandbox (a development
# tool), tests and benchmarks out of the context, and build.sh installs no extras, so
# neither the sandbox nor its numpy/werkzeug is in it (the deploy check verifies both).
# Clients reach it only through a buffering proxy (nginx, deploy/nginx/): gunicorn's sync
# workers are held by slow clients otherwise. compose.yaml sets that up.

# --- builder: the virtualenv and the collected static files ---------------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# npm for the front-end packages build.sh copies into static/vendor/.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh /opt/venv

# --- runtime --------------------------------------------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    PORTAL_MEDIA_ROOT=/app/var/media
# The report PDF (WeasyPrint): Pango and the fonts of every script a name may be in; the
# same list as scripts/system-packages.sh.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
        fonts-droid-fallback fonts-lohit-deva fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin portal
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY . .
COPY --from=builder /app/var/staticfiles /app/var/staticfiles
# var/ holds the media (mount a volume on /app/var/media) and, without DATABASE_URL,
# the SQLite file: the only place the portal writes.
RUN mkdir -p /app/var/media && chown -R portal:portal /app/var
USER portal
EXPOSE 8000
# Liveness only; orchestrators should use /readyz for readiness. The Host header is the
# one of PORTAL_BASE_URL, which DJANGO_ALLOWED_HOSTS allows.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.parse, urllib.request; base = urllib.parse.urlsplit(os.environ.get('PORTAL_BASE_URL') or 'http://127.0.0.1:8000'); req = urllib.request.Request('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), headers={'Host': base.netloc}); sys.exit(0 if urllib.request.urlopen(req, timeout=4).status == 200 else 1)"]
CMD ["scripts/start-web.sh"]
