# libfed — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROTO_SRC := $(wildcard proto/libfed/v1/*.proto)
PROTO_GEN := $(PROTO_SRC:.proto=_pb2.py)

.PHONY: help install proto test lint bench demo clean

help:
	@echo "make demo   - run a federation of real libraries on this machine"
	@echo "make test   - install into $(VENV) and run the test suite"
	@echo "make lint   - ruff"
	@echo "make bench  - benchmarks (prints a table)"
	@echo "make proto  - regenerate the gRPC code from proto/"

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $@

install: $(VENV)/.installed proto

# The generated code is never committed: it is rebuilt whenever a .proto changes.
proto/libfed/v1/%_pb2.py: proto/libfed/v1/%.proto $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -Iproto --python_out=proto --grpc_python_out=proto --pyi_out=proto $<

proto: $(PROTO_GEN)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: install
	$(PY) -m benchmarks $(BENCH_ARGS)

demo: install
	$(VENV)/bin/libfed demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) proto/libfed/v1/*_pb2*.py proto/libfed/v1/*_pb2.pyi .pytest_cache
