# Two commands on a fresh machine: `make <paper>` and `make test`. Both create .venv first.
PYTHON_SYS ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
# Real data beside the repo (the team's ../shared/data) is used when present; see README "Data".
DATA_DIR   ?= $(firstword $(wildcard ../shared/data))
# Quoted: a DATA_DIR with spaces stays one argument. ARGS is split like a shell command line, so a
# value with spaces is quoted inside it: make gpt ARGS="--set 'corpus=/my books/all.txt'"
DATA_ARG   := $(if $(DATA_DIR),--data-dir "$(DATA_DIR)",)
ARGS       ?=
DOCS_OUT   ?= build/docs
DOCS_PORT  ?= 8000

ALL_PAPERS := mcculloch_pitts backprop resnet yolo faster_rcnn transformer bert gpt vit gradcam
PAPERS     := $(patsubst papers/%/reproduce.py,%,$(wildcard papers/*/reproduce.py))
MISSING    := $(filter-out $(PAPERS),$(ALL_PAPERS))

.PHONY: help install test reports docs docs-serve chromium bench resnet-fig6 clean-venv $(ALL_PAPERS) $(ALL_PAPERS:=-smoke) $(ALL_PAPERS:=-paper)

help:  ## list every target
	@echo "Quick start:  make <paper>   (reduced-scale reproduction into reproductions/<paper>/)"
	@echo "              make test      (the whole test suite)"
	@echo
	@echo "Targets:"
	@echo "  help               this list"
	@echo "  install            create $(VENV) and install the project with its test extras"
	@echo "  test               run the whole test suite (pytest)"
	@echo "  reports            run every paper's quick reproduction"
	@echo "  docs               reading pages: each paper's code beside its annotations -> $(DOCS_OUT)/"
	@echo "  docs-serve         build the pages and serve them on http://127.0.0.1:$(DOCS_PORT)/"
	@echo "  chromium           install headless Chromium (Debian package) for the reading-page test"
	@echo "  resnet-fig6        ResNet Fig. 6 trained to the plateau (~40 min on 2 cores) -> reproductions/resnet/fig6/"
	@echo "  bench              ours vs the oracle implementations (step time, MFU) -> reproductions/BENCHMARKS.md"
	@for p in $(PAPERS); do \
	  printf "  %-18s %s\n" "$$p" "quick reproduction -> reproductions/$$p/"; \
	  printf "  %-18s %s\n" "$$p-smoke" "seconds-long smoke run -> runs/$$p/smoke/"; \
	  printf "  %-18s %s\n" "$$p-paper" "the paper's own recipe (GPU) -> runs/$$p/paper/"; done
	@for p in $(MISSING); do printf "  %-18s %s\n" "$$p" "not implemented yet"; done
	@echo
	@echo "Variables: ARGS='--set key=value ...' (extra flags), DATA_DIR=path (data root), PYTHON_SYS=python3.11"

$(STAMP): pyproject.toml
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP) chromium
	$(PY) -m pytest -q

reports: $(PAPERS)

# Reading pages (docs/build.py): model.py, loss.py ... of every paper beside their annotations, MathJax served
# locally (installed from PyPI with the project), no network at build or view time.
docs: $(STAMP)
	$(PY) -m docs.build --out $(DOCS_OUT)

docs-serve: docs
	@echo "serving $(DOCS_OUT) on http://127.0.0.1:$(DOCS_PORT)/ (Ctrl-C stops)"
	$(PY) -m http.server --directory $(DOCS_OUT) --bind 127.0.0.1 $(DOCS_PORT)

# tests/docs opens the pages in headless Chromium: install the Debian package when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for tests/docs"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "chromium is missing and this user cannot install it: apt-get install -y chromium" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bench: $(STAMP)  ## not part of `make test`; run it on an idle machine
	$(PY) -m shared.bench --out reproductions/BENCHMARKS.md $(ARGS)

$(PAPERS): %: $(STAMP)
	$(PY) -m papers.$*.reproduce --preset quick --out reproductions/$* $(DATA_ARG) $(ARGS)

# ResNet's Fig. 6 at the scale where its curves mean something (~40 min on 2 cores; see papers/resnet/README.md)
resnet-fig6: $(STAMP)
	$(PY) -m papers.resnet.reproduce --preset fig6 --out reproductions/resnet/fig6 $(DATA_ARG) $(ARGS)

$(PAPERS:=-smoke): %-smoke: $(STAMP)
	$(PY) -m papers.$*.reproduce --preset smoke --out runs/$*/smoke $(DATA_ARG) $(ARGS)

$(PAPERS:=-paper): %-paper: $(STAMP)
	$(PY) -m papers.$*.reproduce --preset paper --out runs/$*/paper $(DATA_ARG) $(ARGS)

$(MISSING) $(MISSING:=-smoke) $(MISSING:=-paper):
	@echo "papers/$(firstword $(subst -, ,$@)) is not implemented yet: see the open issues." >&2; exit 2

clean-venv:
	rm -rf $(VENV)
