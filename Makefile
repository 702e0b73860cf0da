# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SYSTEM := $(VENV)/.system
# `sudo` only when not root
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The real data: seeded from ../shared/data when it exists (no download needed there).
ifeq ($(origin HVRMET_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data/MANIFEST.tsv),)
    export HVRMET_DATA_DIR := $(abspath ../shared/data)
  endif
endif
export MPLBACKEND := Agg
# pytest-xdist workers for `make test` (each holds its own dataset cache, up to 3 GB)
TEST_WORKERS ?= 2

.PHONY: demo test venv system clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: its CPU build, so the extras' torch range installs nothing more
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# every extra (nowcast, semantic, web, batch) and the test tools: the demo and the suite use them all
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	# the knowledge cards' embeddings, computed at build time (the first search then loads them)
	$(BIN)/python tools/build_card_embeddings.py
	touch $(STAMP)

venv: $(STAMP)

# The tests drive the chat in tmux and the web page in Debian's Chromium (with Playwright,
# from the test extras): install both from Debian's packages when they are missing.
$(SYSTEM): $(STAMP)
	@if ! command -v chromium >/dev/null || ! command -v tmux >/dev/null; then \
	  echo "installing Debian's chromium and tmux for the browser and terminal tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium tmux; \
	fi
	touch $(SYSTEM)

system: $(SYSTEM)

demo: $(STAMP)
	$(BIN)/hvrmet diagnose may1999 --out out

test: $(STAMP) $(SYSTEM)
	HVRMET_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=15

clean:
	rm -rf $(VENV) out
