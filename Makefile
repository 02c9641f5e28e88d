# The README's two commands: `make demo` and `make test`. Each sets up .venv first.
.PHONY: setup demo demo-quick test test-all lint slurm-up slurm-down

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/ssl-video demo

demo-quick: setup
	.venv/bin/ssl-video demo --quick

# The default suite plus the Slurm tests (also the slow requeue ones): they start the local test
# cluster when run as root, and skip otherwise (fail when SSL_VIDEO_REQUIRE_SLURM=1, as in CI).
test: setup
	.venv/bin/python -m pytest -q -m "not slow or slurm"

test-all: setup
	.venv/bin/python -m pytest -q -m ""

lint: setup
	.venv/bin/ruff check ssl_video tests benchmarks
	.venv/bin/ruff format --check ssl_video tests benchmarks

# The local Slurm test cluster (root): install if needed, start, wait until ready / stop it.
slurm-up:
	bash slurm/local/up.sh

slurm-down:
	bash slurm/local/down.sh
