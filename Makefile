# The README's two commands: `make demo` (the main job) and `make test` (the suite).
# Each sets up what it needs (a .venv with the package and its extras) and is quick to re-run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= dev,render,charts,data,browser,notebook,torch

.PHONY: demo test bench lint gallery clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m tinygrad_edu demo

test: $(STAMP)
	$(PY) -m ruff check tinygrad_edu viz tests examples benchmarks
	$(PY) -m ruff format --check tinygrad_edu viz tests examples benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_scalar.py
	$(PY) benchmarks/bench_tensor.py
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_recurrent.py
	$(PY) benchmarks/bench_torch.py

lint: $(STAMP)
	$(PY) -m ruff check tinygrad_edu viz tests examples benchmarks

# The README's pictures and tables (docs/gallery/): the demo and every experiment at full size.
gallery: $(STAMP)
	mkdir -p docs/gallery
	$(PY) -m tinygrad_edu demo --out docs/gallery --quiet > docs/gallery/demo.txt
	for name in nielsen glorot he clipping regression classification batchnorm paths rnn adding edge_of_chaos isometry; do \
		$(PY) -m tinygrad_edu experiment $$name --out docs/gallery --quiet > docs/gallery/$$name.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache
