# Integrations hub. `make` lists the targets; a fresh machine needs only `make run` and `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
RUN := $(UV) run --frozen
# Playwright's sync API keeps an event loop running in the test thread for the rest of the
# session, so the browser tests run in a pytest process of their own.
BROWSER_TESTS := services/admin-console/tests/test_pages.py

PACKAGES := $(notdir $(wildcard libs/*/src/* dev/*/src/* services/*/src/*))
MYPY_TARGETS := $(foreach p,$(filter-out %.egg-info,$(PACKAGES)),-p $(p))

.PHONY: help setup run stack test check lint format typecheck imports schemas key reencrypt token doctor bench bench-quick chromium clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml dev/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

setup: .venv/.synced ## Install uv and every pinned dependency (uv.lock)

run: setup ## Start PostgreSQL, the broker, the provider sandbox and every service; Ctrl-C stops all
	$(RUN) python -m hub_localstack run --procfile deploy/local/Procfile

stack: setup ## Start only PostgreSQL and the broker (until Ctrl-C)
	$(RUN) python -m hub_localstack up

test: setup check chromium ## Lint, type-check, then every test against the real PostgreSQL and broker
	$(RUN) pytest -p no:playwright --ignore=$(BROWSER_TESTS)
	$(RUN) pytest $(BROWSER_TESTS)

check: setup lint typecheck imports ## Static checks: ruff, mypy, import rules, event schema drift
	$(RUN) python -m hub_contracts.schemas

lint: setup ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

typecheck: setup ## mypy --strict over every package
	$(RUN) mypy $(MYPY_TARGETS)
	$(RUN) mypy tools/lint_imports.py

imports: setup ## import-linter rules derived from the workspace layout
	$(RUN) python tools/lint_imports.py

schemas: setup ## Refresh the committed JSON Schema snapshots of the events
	$(RUN) python -m hub_contracts.schemas --write

reencrypt: setup ## Move every stored ciphertext (every service's tables) to the newest key of CREDENTIAL_KEYS [DRY_RUN=1]
	$(RUN) hubctl keys reencrypt $(if $(DRY_RUN),--dry-run)

key: setup ## Print a fresh CREDENTIAL_KEYS entry
	@$(RUN) hubctl keys new

token: setup ## Print a development token: make token ORG=<uuid> [SCOPE=...] | make token SERVICE=<name> PROVIDERS="google_ads meta_ads"
	@test -n "$(ORG)$(SERVICE)" || { echo 'usage: make token ORG=<organization uuid> [SCOPE="integrations:read integrations:write"], or make token SERVICE=<name> PROVIDERS="google_ads meta_ads"' >&2; exit 2; }
	@$(RUN) hubctl token $(if $(SERVICE),--service "$(SERVICE)" --providers "$(PROVIDERS)",--org "$(ORG)" $(if $(SCOPE),--scope "$(SCOPE)"))

doctor: setup ## Check settings, secrets, reachability and who will not hear about problems
	$(RUN) hubctl doctor

chromium: ## Debian's Chromium for the console's browser tests (installed when missing and root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || { echo "The console's browser tests need Chromium: run 'apt-get install -y chromium' as root." >&2; exit 2; }

bench: setup ## Run every benchmark; bench-results/summary.json and a table against the goals
	$(RUN) python -m tests.bench

bench-quick: setup ## The benchmarks at a tenth of the scale (CI: they cannot rot)
	$(RUN) python -m tests.bench --scale 0.1

clean: ## Remove local data, caches and the virtual environment
	rm -rf .local .venv .tools .mypy_cache .ruff_cache .pytest_cache
