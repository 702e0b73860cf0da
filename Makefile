# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The real data: seeded from ../shared/data when it exists (no download needed there).
ifeq ($(origin HVRMET_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data/MANIFEST.tsv),)
    export HVRMET_DATA_DIR := $(abspath ../shared/data)
  endif
endif
export MPLBACKEND := Agg

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: its CPU build, so the project's torch range installs nothing more
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/hvrmet diagnose may1999 --out out

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
