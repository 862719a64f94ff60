# The front door for people and CI alike. `make run` and `make test` install what is missing.
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install run test bench lint format db-stop clean

install:
	@./scripts/install.sh

run: install
	$(BIN)/citygrid run

test:
	@WITH_BROWSER=1 ./scripts/install.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check app gis tests bench migrations
	$(BIN)/ruff format --check app gis tests bench migrations
	$(BIN)/mypy

format: install
	$(BIN)/ruff format app gis tests bench migrations
	$(BIN)/ruff check --fix app gis tests bench migrations

db-stop:
	-$(BIN)/citygrid db stop

clean: db-stop
	rm -rf .citygrid
