# Set-up commands: `make demo` (bundled model on sample photos) and `make test` (the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast lint demo clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[cpu,train,test]"
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest -q --durations=15

# The tests without the slow ones (exports, Dask clusters, video, the bundled model, the browser).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .

demo: install
	@$(BIN)/colorbatch info > /dev/null 2>&1 || { \
		echo "make demo: no bundled model in colorbatch/models/ yet (see the training issue);"; \
		echo "train one with 'colorbatch train' and export it with 'colorbatch export'."; exit 1; }
	$(PY) -m colorbatch.samples demo/color
	$(BIN)/colorbatch gray demo/color demo/gray --overwrite --quiet
	$(BIN)/colorbatch run demo/gray demo/out --overwrite
	$(BIN)/colorbatch score demo/out demo/color --baseline --report demo/report.html
	@echo "colour outputs: demo/out/   report: demo/report.html   (inputs: demo/gray/, originals: demo/color/)"

clean:
	rm -rf demo .pytest_cache .ruff_cache
