# The two quick-start commands: `make demo` and `make test`. Both create the
# virtual environment on first use and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint layers typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Compiled as pip compiles an installed package (an editable install is not, and with
	# PYTHONDONTWRITEBYTECODE set every command would compile custodes again).
	$(BIN)/python -m compileall -q src > /dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/custodes demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

# The layers of DESIGN.md and the other architecture contracts (.importlinter), checked.
layers: $(STAMP)
	$(BIN)/lint-imports --verbose

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

pytest: $(STAMP)
	scripts/ensure-chromium
	scripts/with-postgres $(BIN)/pytest -q

test: lint typecheck pytest

# pycanon pins an old typer, so it gets an environment of its own.
.venv-pycanon/.installed:
	test -x .venv-pycanon/bin/python || $(PYTHON) -m venv .venv-pycanon
	.venv-pycanon/bin/python -m pip install --quiet 'pycanon>=1.3' 'polars>=1.30' 'pyarrow>=17'
	touch $@

# anjana likewise runs in its own environment.
.venv-anjana/.installed:
	test -x .venv-anjana/bin/python || $(PYTHON) -m venv .venv-anjana
	.venv-anjana/bin/python -m pip install --quiet 'anjana>=1.2' 'polars>=1.30' 'pyarrow>=17'
	touch $@

# presidio-analyzer runs in its own environment too; only its pattern recognizers are used.
.venv-presidio/.installed:
	test -x .venv-presidio/bin/python || $(PYTHON) -m venv .venv-presidio
	.venv-presidio/bin/python -m pip install --quiet 'presidio-analyzer>=2.2.366' 'polars>=1.30' 'pyarrow>=17'
	touch $@

# The differential-privacy libraries pin Polars/numpy/pandas versions that clash with ours,
# so each gets an environment of its own. OpenDP 0.16's Polars plugin demands polars 1.36.1.
.venv-opendp/.installed:
	test -x .venv-opendp/bin/python || $(PYTHON) -m venv .venv-opendp
	.venv-opendp/bin/python -m pip install --quiet 'opendp[polars]>=0.16' 'polars==1.36.1' 'pyarrow>=17'
	touch $@

# smartnoise-sql brings its own opendp and pandas pins.
.venv-smartnoise/.installed:
	test -x .venv-smartnoise/bin/python || $(PYTHON) -m venv .venv-smartnoise
	.venv-smartnoise/bin/python -m pip install --quiet 'smartnoise-sql' 'pandas' 'pyarrow' 'sqlalchemy'
	touch $@

# diffprivlib 0.6.6 imports sklearn.tree._tree.DOUBLE, which scikit-learn 1.9 removed.
.venv-diffprivlib/.installed:
	test -x .venv-diffprivlib/bin/python || $(PYTHON) -m venv .venv-diffprivlib
	.venv-diffprivlib/bin/python -m pip install --quiet 'diffprivlib' 'scikit-learn<1.9' 'pandas' 'pyarrow'
	touch $@

bench: $(STAMP) .venv-pycanon/.installed .venv-anjana/.installed .venv-presidio/.installed \
		.venv-opendp/.installed .venv-smartnoise/.installed .venv-diffprivlib/.installed
	$(BIN)/python bench/bench_risk.py
	$(BIN)/python bench/bench_anonymize.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_detect.py
	scripts/with-postgres $(BIN)/python bench/bench_ledger.py
	$(BIN)/python bench/bench_dp.py
	$(BIN)/python bench/bench_mosaic.py
	$(BIN)/python bench/bench_server.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_spill.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
