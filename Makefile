# Set-up is part of both targets: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch lies on this kind of machine's disk; keep it (never the CUDA build)
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev]"
	@# offscreen rendering for videos (MuJoCo with OSMesa); skipped where apt is not available
	@if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then \
	  (command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq libosmesa6 >/dev/null) || true); fi
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/hoi-sim demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup tests

lint: $(STAMP)
	$(BIN)/ruff check hoi_sim tests benchmarks tools
	$(BIN)/lint-imports --no-cache
