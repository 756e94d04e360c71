# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Migrate the embedded SQLite database, sync tenants/, serve on :8000 with an in-process worker.
run: install
	$(BIN)/tandem db upgrade
	$(BIN)/tandem tenants sync
	@echo "Tandem is at http://localhost:8000 — tenants: http://muenchen.localhost:8000 http://augsburg.localhost:8000 http://toronto.localhost:8000"
	$(BIN)/tandem serve

## The whole suite (SQLite always; PostgreSQL, Redis and RabbitMQ when reachable).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Extract messages into the catalogue template, merge into each language, check they compile.
translations: install
	$(BIN)/pybabel --quiet extract -F core/locale/babel.cfg --no-location --sort-output \
		-o core/locale/messages.pot core plugins themes
	$(BIN)/pybabel --quiet update --no-fuzzy-matching --ignore-obsolete -i core/locale/messages.pot -d core/locale
	$(BIN)/pybabel compile --statistics -d core/locale

clean:
	rm -rf $(VENV) var/*.db .pytest_cache
