# Two commands do all the set-up: `make run` (the app on the bundled corpus) and `make test`.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run index test browser services docs screenshots eval bench bench-workers bench-startup

$(BIN)/policyqa: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0   # the CPU build; a bare `torch` pulls CUDA
	$(BIN)/pip install --quiet -e '.[test,docs]'   # docs: tests/test_docs.py builds the site
	touch $@

install: $(BIN)/policyqa

run: install
	$(BIN)/policyqa serve

index: install
	$(BIN)/policyqa index

browser:  # Debian's Chromium for the browser tests (playwright drives it; nothing is downloaded by playwright)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

services:  # Debian's redis-server and PostgreSQL for the scale-out tests, which start their own on free ports
	@(command -v redis-server && ls /usr/lib/postgresql/*/bin/initdb) >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql >/dev/null)

test: install browser services
	HF_HUB_OFFLINE=1 $(BIN)/pytest

# The documentation site, from docs/ into site/: offline, and strict (a broken link or an unlisted page fails).
docs: install
	HF_HUB_OFFLINE=1 $(BIN)/mkdocs build --strict

# docs/chat.png and docs/agents.png, from the real app on the bundled corpus in headless Chromium.
screenshots: install browser
	HF_HUB_OFFLINE=1 $(BIN)/python docs/screenshot.py

eval: install
	HF_HUB_OFFLINE=1 $(BIN)/policyqa eval --unseen tests/data/unseen

# The scale benchmark (about an hour on 2 cores: the 1M rows and the 10k-clause incremental build dominate),
# then start-up and re-indexing per embedding backend.
BENCH_SIZES ?= 1000,10000,100000,1000000
BENCH_POLICIES ?= 390  # about 10,000 clauses
BENCH_WORKERS ?= 1,2  # serving throughput: answers per second of `policyqa serve --workers N`
bench: install bench-startup
	$(BIN)/pip install --quiet -e '.[bench]'
	HF_HUB_OFFLINE=1 $(BIN)/policyqa bench --sizes $(BENCH_SIZES) --incremental-files $(BENCH_POLICIES) \
		--workers $(BENCH_WORKERS) --json bench/results.json --plot bench/results.png > bench/results.txt
	cat bench/results.txt bench/startup.txt

# The serving throughput alone (a few minutes).
bench-workers: install
	HF_HUB_OFFLINE=1 $(BIN)/policyqa bench --only-throughput --workers $(BENCH_WORKERS) \
		--json bench/throughput.json > bench/throughput.txt
	cat bench/throughput.txt

# Start-up and re-indexing, ONNX Runtime against PyTorch in one run (about 10 minutes on 2 cores).
bench-startup: install
	HF_HUB_OFFLINE=1 $(BIN)/policyqa bench --startup --json bench/startup.json > bench/startup.txt
	cat bench/startup.txt
