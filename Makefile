# Set-up and entry points. Every target creates the virtualenv first when needed.
#   make run [ONEC=<file or folder>] [REPORT=out.csv] [ARGS="--full"]
#   make test
#   make bench

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench package clean

run: $(STAMP)
	$(PY) -m local.run $(if $(ONEC),--onec "$(ONEC)") $(if $(REPORT),--report "$(REPORT)") $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.commerceml_parse
	$(PY) -m bench.stock_sync

package: $(STAMP)
	$(PY) -m infra.build --stage prod --out build/prod

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV) build .pytest_cache
