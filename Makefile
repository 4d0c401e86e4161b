# The two commands: `make demo` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := demo_app

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/flask clerk init
	$(BIN)/flask db upgrade
	$(BIN)/flask register-webhook
	$(BIN)/flask run --debug --host 127.0.0.1 --port 5000

# The OpenID provider the OAuth tests run (Node.js; its tests skip, or fail under
# CLERK_REQUIRE_SERVICES=1, when it cannot be installed).
OIDC := tests/oidc_provider
$(OIDC)/node_modules/.installed: $(OIDC)/package-lock.json
	(command -v npm >/dev/null && cd $(OIDC) && npm ci --silent --no-audit --no-fund \
	  && touch node_modules/.installed) || echo "npm ci in $(OIDC) failed: its tests will say so"

test: $(STAMP) $(OIDC)/node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy flask_clerk

bench: $(STAMP)
	$(BIN)/python bench/request_overhead.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/import_export.py
	$(BIN)/python bench/user_search.py

clean:
	rm -rf $(VENV) instance .pytest_cache tests/artifacts $(OIDC)/node_modules
