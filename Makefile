# Two commands on a fresh machine: `make train` and `make test`; both install first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.megen-installed

.PHONY: install train test lint bench prepare clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an open range would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	# opencv-contrib-python-headless is the whole of cv2: a plain opencv wheel left in the venv would shadow its optflow
	$(PY) -m pip uninstall -q -y opencv-python-headless opencv-python 2>/dev/null || true
	# the export extra (ONNX Runtime, about 20 MB) so that the ONNX equality tests run too
	$(PY) -m pip install -q -e '.[dev,export]'
	touch $(STAMP)

train: install
	$(PY) -m megen.train $(ARGS)

prepare: install
	$(PY) -m megen.prepare $(ARGS)

# two workers, whole test files each (a file's module fixtures are built once); `make test ARGS=-n0` runs in one process
test: install
	$(PY) -m pytest -n 2 --dist loadfile $(ARGS)

lint: install
	$(PY) -m ruff check src tests

bench: install
	$(PY) -m megen.bench $(or $(ARGS),all)

clean:
	rm -rf outputs multirun .pytest_cache
