# hmspark: the two commands of the README are `make demo` and `make test`.
# Both create (or reuse) the virtual environment in .venv with the pinned dependencies.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

PRESET ?= small
SEED   ?= 42
DEMO_DATA ?= data/demo-$(PRESET)
DEMO_WAREHOUSE ?= warehouse/demo-$(PRESET)
DEMO_OUTPUT ?= output/demo-$(PRESET)
PYTEST_ARGS ?=

.PHONY: venv demo test jars clean

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "error: java not found (Spark needs a JDK 17+)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# The main job on the built-in simulated dataset (generated once, then reused).
demo: $(STAMP)
	@test -f $(DEMO_DATA)/transactions_train.csv || \
		$(PY) -m hmspark.synth --preset $(PRESET) --seed $(SEED) --out $(DEMO_DATA)
	scripts/spark-submit.sh jobs/pipeline.py --input $(DEMO_DATA) --warehouse $(DEMO_WAREHOUSE) \
		--output $(DEMO_OUTPUT) --as-of last-week

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Offline clusters: download Delta and its dependencies once into .jars, then set
# spark.jars_dir = ".jars" in the conf file.
jars: $(STAMP)
	$(PY) -m hmspark.session fetch-jars .jars

clean:
	rm -rf build warehouse output spark-warehouse .pytest_cache
