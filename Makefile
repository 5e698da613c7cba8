# NODEbook: the two commands of the README (make lab, make test) plus make notebooks.
# Each target sets itself up on a fresh machine: it creates .venv if missing, installs torch
# only if it is not importable there, then installs the course package with its extras while
# pinning the torch that is already installed, so pip never replaces it.

PYTHON ?= python3
VENV ?= .venv
# How to get torch when .venv has none. The development machines hold a local CPU build of
# 2.13.0; elsewhere, e.g. TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0
# Extra flags for venv creation, e.g. VENV_FLAGS=--system-site-packages to reuse a torch
# that is already installed for $(PYTHON).
VENV_FLAGS ?=
PORT ?= 8888
LAB_ARGS ?=
MODE ?= standard
NB ?= notebooks/*.ipynb

PY := $(VENV)/bin/python
STAMP := $(VENV)/.nodebook-installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test notebooks slides student report experiment clean site

$(PY):
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@echo "Installing the course into $(VENV) (torch, JupyterLab, the test tools): a few minutes the first time, quiet while pip works..."
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_SPEC)
	@$(PY) -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(PY) -m pip install -q -c $(VENV)/torch-constraint.txt -e ".[lab,test,dev,site]"
	@touch $@

# A fresh token per start, so the URL printed below is known before the server starts and
# opens 00_start_here directly (the URL JupyterLab prints itself opens the Launcher).
TOKEN := $(or $(TOKEN),$(shell $(PYTHON) -c "import secrets; print(secrets.token_hex(16))"))
START_URL = http://127.0.0.1:$(PORT)/lab/tree/notebooks/00_start_here.ipynb?token=$(TOKEN)

# A busy port is refused with one line (JupyterLab would quietly move to the next port, and the
# URL printed here would open the other server's login page). The course's lab settings
# (tools/lab-settings/overrides.json) switch off the news prompt and the update check.
lab: $(STAMP)
	@$(PY) -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $(PORT))) == 0)" \
		|| { echo "make lab: port $(PORT) is in use (a JupyterLab started earlier?): use that one, stop it, or run make lab PORT=8889"; exit 1; }
	@echo "JupyterLab is starting; open this URL (it opens 00_start_here):"
	@echo "    $(START_URL)"
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --no-browser \
		--IdentityProvider.token=$(TOKEN) --ServerApp.root_dir=. --ServerApp.port_retries=0 \
		--LabApp.app_settings_dir=$(CURDIR)/tools/lab-settings \
		--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb $(LAB_ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check nodebook_utils tests notebooks benchmarks tools
	NODEBOOK_MODE=fast $(PY) -m pytest notebooks tests -n auto --dist loadfile --nbval-lax \
		--nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout=300 --durations=15

# Widget state is machine noise in a committed notebook. (nbclient's store_widget_state=False
# would be the switch, but it fails on notebooks whose interact() widgets write output.)
export STRIP_WIDGETS = import sys, nbformat; p = sys.argv[1]; nb = nbformat.read(p, as_version=4); \
	nb.metadata.pop("widgets", None); nbformat.write(nb, p)

notebooks: $(STAMP)
	@for nb in $(NB); do \
		start=$$(date +%s); \
		NODEBOOK_MODE=$(MODE) TQDM_DISABLE=1 $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.record_timing=False "$$nb" || exit 1; \
		$(PY) -c "$$STRIP_WIDGETS" "$$nb" || exit 1; \
		echo "$$nb: $$(( $$(date +%s) - start )) s in $(MODE) mode"; \
	done

# Classroom (tools/classroom.py): offline reveal.js slides (reveal.js and MathJax fetched once
# from npm into build/slides/vendor), HTML pages, and a student copy without solutions that
# is executed in fast mode to prove nothing depends on a removed solution.
# The website (tools/site.py): the committed notebooks and pages, built offline into build/site/.
site: $(STAMP)
	$(PY) tools/site.py

slides: $(STAMP)
	$(PY) tools/classroom.py slides $(NB)

student: $(STAMP)
	$(PY) tools/classroom.py student $(NB)

# The committed reproduction report, from the committed results it names
# (nodebook_utils.reproduce.COMMITTED); it runs no experiment.
report: $(STAMP)
	$(PY) -m nodebook_utils.reproduce

# One experiment from the command line (partial results resume): make experiment NAME=ecg MODE=full
NAME ?= ecg
experiment: $(STAMP)
	$(PY) -m nodebook_utils.experiments.$(NAME) --mode $(MODE) --out results

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
