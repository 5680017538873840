# KineSync — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STATIONS ?= 8

.PHONY: run test install system-deps lint clean help screenshots

help:
	@echo "make run    start the whole system on its embedded default (wall page on http://127.0.0.1:$(PORT))"
	@echo "make test   install everything the tests need and run them"
	@echo "make lint   ruff over the tree"
	@echo "make screenshots  remake the console screenshots in docs/img/console (needs chromium)"
	@echo "make clean  remove the virtualenv and run data"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/kinesync run --stations $(STATIONS) --port $(PORT)

# Servers the integration tests start themselves (InfluxDB 1.x from Debian).
system-deps:
	bash deploy/scripts/install-test-deps.sh

# The PNGs docs/console.md shows: a live simulated run, headless Chromium (about a minute).
screenshots: install
	$(BIN)/kinesync screenshots --out docs/img/console

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/pytest -ra

clean:
	rm -rf $(VENV) .kinesync .pytest_cache .ruff_cache .hypothesis
