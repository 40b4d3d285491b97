# Everything a fresh machine needs: `make run` to try it, `make test` to check it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HTMX := static/vendor/htmx.min.js
STATIC_BUILT := build/static/.built
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run serve test test-sdk bench screenshots install install-dev translations pot browser redis java \
	clean

run: install ## Start the app on http://127.0.0.1:$(PORT) (embedded demo store unless MEMOS_* is set)
	PORT=$(PORT) $(BIN)/python app.py

serve: install ## Production server: gunicorn with gunicorn.conf.py on http://127.0.0.1:$${PORT:-8000}
	$(BIN)/gunicorn --config gunicorn.conf.py 'app:create_app()'

test: install-dev browser java redis ## Install everything, lint, then run the whole suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# MemTensor's own SDK (PyPI MemoryOS) against the embedded store's server: ~140 packages (668 MB,
# transformers among them), so in a venv of its own that sees this project's packages through a
# .pth file, and not part of `make test` (where tests/test_memos_sdk.py skips).
SDK_VENV := .venv-sdk
test-sdk: install-dev ## MemTensor's SDK against the embedded store, in a venv of its own
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet -r requirements-sdk.txt
	$(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > \
	  "$$($(SDK_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz-project.pth"
	$(SDK_VENV)/bin/python -m pytest -p no:cacheprovider tests/test_memos_sdk.py

bench: install-dev /usr/bin/wrk redis ## Run the benchmarks; results in docs/benchmarks.md
	$(BIN)/python -m benchmarks.run

# The README's pictures, taken from the running app in Chromium (docs/screenshots.py).
screenshots: install-dev browser ## Write docs/screenshots/*.png: chat, phone, widget, print
	$(BIN)/python -m docs.screenshots

install: $(VENV)/.runtime $(HTMX) $(STATIC_BUILT) $(COMPILED)
install-dev: $(VENV)/.dev install

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# htmx is pinned in package.json/package-lock.json and served by Flask as a static file. The
# devDependencies are what the tests run (axe-core, vnu-jar, showdown, marked): installed even
# where NODE_ENV=production would leave them out.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --include=dev --no-audit --no-fund --loglevel=error

$(HTMX): node_modules/.package-lock.json
	mkdir -p $(dir $@)
	cp node_modules/htmx.org/dist/htmx.min.js $@

# Static files, htmx included, copied to build/static/ under content-hashed names beside their
# brotli and gzip variants: compressed here, once, never per request (viewer/assets.py).
$(STATIC_BUILT): $(wildcard static/*.*) $(HTMX) viewer/assets.py | $(VENV)/.runtime
	$(BIN)/python -m viewer.assets
	touch $@

# Translations: the .po catalogs are the source, compiled here (the .mo files are not committed).
translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(VENV)/.runtime
	$(BIN)/pybabel compile --domain messages --input-file $< --output-file $@ --locale $*

# After changing wording: extract every translatable text (babel.cfg) and add the new ones to
# each catalog, for a translator; tests/test_i18n.py fails until every one is translated. It
# extracts with `make pot POT=<file>`, so the tests and the catalogs read the same texts.
POT ?= translations/messages.pot
translations: pot
	$(BIN)/pybabel update -i $(POT) -d translations --no-fuzzy-matching --width 100
pot: | $(VENV)/.runtime
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k N_ --no-location -o $(POT) .

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
# The benchmark test (tests/test_benchmarks.py) and `make bench` need wrk, also from Debian.
# The shared-store tests (rate limits, live reads, the breaker, revoked links) and the benchmarks'
# "Shared live reads" and "MemOS down" start Debian's redis-server themselves, on a free loopback
# port.
# The screenshots (`make screenshots`, tests/test_screenshots.py) turn a printed page into a
# PNG with pdftoppm, from Debian's poppler-utils.
# Chinese text is checked in Noto Sans CJK SC, the Linux font of chat.css's stack: without it
# the browser would take any font with Han glyphs (Japanese forms, say): that test is skipped
# without it, and fails under CI.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
browser: /usr/bin/chromium /usr/bin/wrk /usr/bin/pdftoppm $(CJK_FONT)
redis: /usr/bin/redis-server
/usr/bin/chromium /usr/bin/wrk /usr/bin/redis-server:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(notdir $@)
/usr/bin/pdftoppm:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils
$(CJK_FONT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-cjk

# The HTML validity test runs vnu.jar (pinned in package.json) on Java: Debian's JRE if none.
java:
	command -v java >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless; }

clean:
	rm -rf $(VENV) node_modules static/vendor build .pytest_cache
