# The README's two commands: `make demo` and `make test`. Each sets up .venv first.
.PHONY: setup demo demo-quick test test-all lint

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/ssl-video demo

demo-quick: setup
	.venv/bin/ssl-video demo --quick

test: setup
	.venv/bin/python -m pytest -q

test-all: setup
	.venv/bin/python -m pytest -q -m ""

lint: setup
	.venv/bin/ruff check ssl_video tests benchmarks
	.venv/bin/ruff format --check ssl_video tests benchmarks
