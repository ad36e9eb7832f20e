# The portal's commands. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The demo always runs the embedded setup (SQLite and django-q2's ORM broker) against the
# Clarius sandbox, which serves its API on :8100 and its media from another origin, :8101.
DEMO_ENV := env -u DATABASE_URL -u REDIS_URL DJANGO_DEBUG=1 \
	CLARIUS_API_URL=http://127.0.0.1:8100/api/public/v0/ \
	CLARIUS_API_KEY=DemoKey1.demo-service-api-key-for-the-sandbox-only \
	CLARIUS_MEDIA_ORIGINS=http://127.0.0.1:8101

.PHONY: install demo test lint format bench cluster schema clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox]'
	@touch $(STAMP)

# Pango and the fonts of every script, for the report PDF: installed when root with apt,
# otherwise the command to run is printed. Then the front-end packages from npm.
install: $(STAMP)
	@bash scripts/system-packages.sh
	@bash scripts/frontend.sh

# `make demo V=1` shows every request and task (the demo is quiet by default).
demo: install
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo
	$(DEMO_ENV) $(BIN)/python manage.py run_demo $(if $(V),--verbose)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/run.py $(BENCH)

# A cluster on this machine (PostgreSQL, Redis, an S3 server, 2 web and 2 worker nodes)
# taking 2,000 exams from the sandbox while nodes fail; prints exams/minute with 1 and 2
# worker nodes. CLUSTER="--exams 500 --local-storage ..." (scripts/cluster.py --help).
cluster: install
	$(BIN)/python scripts/cluster.py $(CLUSTER)

# The API's OpenAPI document, checked in; a test fails when it differs from the code's.
schema: install
	env -u DATABASE_URL -u REDIS_URL DJANGO_DEBUG=1 $(BIN)/python manage.py spectacular \
		--validate --file docs/openapi.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info node_modules static/vendor
