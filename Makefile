# One environment for everything: .venv, installed from the committed lock file.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test dev lint typecheck lock bench clean-venv up status down

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/recomamp demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

dev: $(STAMP)
	$(BIN)/recomamp dev

up: $(STAMP)
	$(BIN)/recomamp services up

status: $(STAMP)
	$(BIN)/recomamp services status

down: $(STAMP)
	$(BIN)/recomamp services down

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--generate-hashes --no-header -o requirements.lock

clean-venv:
	rm -rf $(VENV)
