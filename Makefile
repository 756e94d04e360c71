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

# Development sign-in: one local OpenID provider (oidc-provider-mock) per demo tenant,
# on loopback, at the issuers named in tenants/*.toml. The mock accepts the client ids
# there as they are; these secrets are for development only.
DEV_OIDC_ENV := TANDEM_OIDC_MUENCHEN_SECRET=dev-muenchen-secret \
	TANDEM_OIDC_AUGSBURG_SECRET=dev-augsburg-secret \
	TANDEM_OIDC_TORONTO_SECRET=dev-toronto-secret
# Operators sign in on the platform host through a fourth one, on 127.0.0.1:8013.
DEV_OPERATOR_OIDC_ENV := TANDEM_OPERATOR_OIDC_ISSUER=http://127.0.0.1:8013 \
	TANDEM_OPERATOR_OIDC_CLIENT_ID=tandem-platform \
	TANDEM_OPERATOR_OIDC_CLIENT_SECRET=dev-operator-secret \
	TANDEM_OPERATOR_OIDC_NAME="Operator SSO"
DEV_OIDC_PORTS := 8010 8011 8012 8013

## Migrate the embedded SQLite database, sync tenants/, start the local OpenID providers
## (ports $(DEV_OIDC_PORTS)), serve on :8000 with an in-process worker; Ctrl-C stops all.
run: install
	$(BIN)/tandem db upgrade
	$(BIN)/tandem tenants sync
	$(BIN)/tandem demo load
	env $(DEV_OPERATOR_OIDC_ENV) $(BIN)/tandem operators add operator@tandem.localhost \
		--name "Demo operator" --subject operator@tandem.localhost
	@echo "Development sign-in (no password): http://localhost:8000/dev/login and /dev/login on each tenant's host"
	@echo "Tandem is at http://localhost:8000 — tenants: http://muenchen.localhost:8000 http://augsburg.localhost:8000 http://toronto.localhost:8000"
	@echo "Sign in with SSO at /login, e.g. as coordinator@muenchen.example (type it on the provider's page)"
	@echo "Operators: http://localhost:8000/login, as operator@tandem.localhost"
	@pids=""; \
	trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	for port in $(DEV_OIDC_PORTS); do \
		PYTHONWARNINGS=ignore $(BIN)/oidc-provider-mock --host 127.0.0.1 --port $$port \
			--require-nonce true >var/oidc-provider-$$port.log 2>&1 & pids="$$pids $$!"; \
	done; \
	env $(DEV_OIDC_ENV) $(DEV_OPERATOR_OIDC_ENV) $(BIN)/tandem serve

# Two test workers per core: the tests wait on databases, SMTP and brokers about half the time.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

## The whole suite (SQLite always; PostgreSQL, Redis and RabbitMQ when reachable).
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

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
