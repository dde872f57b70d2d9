# Quick start: `make demo` and `make test`. Each installs what it needs and is quick when installed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION ?= 2.13.0
DEMO_OUT ?= out/demo
GL_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri

.PHONY: setup gl venv demo test test-fast bench clean

setup: .stamp-project

# Debian's Mesa EGL: headless OpenGL on the CPU (llvmpipe). Installed only where missing.
gl:
	@missing=""; for p in $(GL_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, pinned: an open range would pull the newest build with gigabytes of CUDA packages.
.stamp-torch: | $(PY)
	$(PIP) install -q torch==$(TORCH_VERSION)
	touch $@

.stamp-project: pyproject.toml .stamp-torch | gl
	$(PIP) install -q -e ".[test]"
	touch $@

# the demo command builds the triplet and pair sets, their previews, trains and evaluates both models
demo: setup
	$(VENV)/bin/sketchgen demo --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest tests

# the daily lane: the suite without the tests marked slow (tests/conftest.py SLOW_TESTS); CI runs `make test`
test-fast: setup
	$(PY) -m pytest tests -m "not slow"

bench: setup
	@# bench_value.py trains for hours on a CPU: it runs on its own (README, Training and evaluation)
	@for b in bench/*.py; do case $$b in */bench_value.py) continue;; esac; echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .stamp-torch .stamp-project out
