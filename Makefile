# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   - the whole pipeline, end to end, on real footage, against embedded AWS
#   make test   - the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FOOTAGE ?= ../shared/footage
# Where footage is fetched to when the shared folder is absent.
LOCAL_FOOTAGE := var/footage
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean footage setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,torch]'
	touch $(STAMP)

# Real footage: the project's shared folder, else OpenCV's sample vtest.avi from Debian's opencv-doc.
footage:
	@if [ -f $(FOOTAGE)/vtest.avi ]; then echo "footage: $(FOOTAGE)"; \
	elif [ -f $(LOCAL_FOOTAGE)/vtest.avi ]; then echo "footage: $(LOCAL_FOOTAGE)"; \
	else ./scripts/fetch-footage.sh $(LOCAL_FOOTAGE); fi

demo: setup footage
	$(BIN)/edgecloud demo --video "$$(./scripts/footage-path.sh $(FOOTAGE) $(LOCAL_FOOTAGE))/vtest.avi"

test: setup footage
	EDGECLOUD_FOOTAGE="$$(./scripts/footage-path.sh $(FOOTAGE) $(LOCAL_FOOTAGE))" $(BIN)/python -m pytest

bench: setup footage
	$(BIN)/edgecloud bench detect --video "$$(./scripts/footage-path.sh $(FOOTAGE) $(LOCAL_FOOTAGE))/vtest.avi"

clean:
	rm -rf var build *.egg-info
