# medcnn: `make book` builds everything, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export MEDCNN_MIRROR ?= $(abspath ../shared/data/sources)
export KERAS_HOME := $(abspath .keras-home)
export TF_CPP_MIN_LOG_LEVEL ?= 2  # TensorFlow's C++ INFO and WARNING lines stay out of the book
WEIGHTS ?= ../shared/weights/keras/models
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup data book test lint bench browser serve app clean

setup: $(VENV)/.installed  ## virtual environment with the pinned packages

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	mkdir -p $(KERAS_HOME)/models
	if [ -d "$(WEIGHTS)" ]; then cp -n $(WEIGHTS)/* $(KERAS_HOME)/models/; fi
	touch $@

data: setup  ## fetch the sources into data/raw and build data/processed
	$(BIN)/medcnn data fetch --quiet
	$(BIN)/medcnn data build --quiet

.PHONY: model
model: data  ## train the release members and merge them: models/medcnn.keras and its card models/medcnn.json
	$(BIN)/medcnn train --release

.PHONY: holdout
holdout: data  ## recipes scored on training sources held out of training: models/medcnn.holdout.json
	$(BIN)/medcnn train --holdout

.PHONY: seeds
seeds: data  ## the release under seeds 0, 1, 2 on test, external and the open set: models/medcnn.seeds.json (MEASURE=0: seed 0 alone, the others kept)
	$(BIN)/medcnn train --seeds $(if $(MEASURE),--measure $(MEASURE))

lint: setup  ## ruff over the package, the tests and the notebook sources
	$(BIN)/ruff check src tests benchmarks $(wildcard app/*.py notebooks/*.py)
	$(BIN)/ruff format --check src tests benchmarks $(wildcard app/*.py notebooks/*.py)
	$(BIN)/python -m medcnn.notebook_pairing notebooks

# The book is built from a staged copy, _book (nbmake skips paths under _build): its pages,
# its config and every notebook executed there by nbmake (`pytest --nbmake`: a failing cell
# fails the run, naming notebook and cell). jupyter-book then renders those outputs
# (`execute_notebooks: off`): one execution, and the committed notebooks stay output-free. A notebook runs again only when its key changes:
# a hash of the notebook and its .py, the package's sources, data/processed/manifest.csv and
# models/ (`python -m benchmarks.book key`). The book's MyST pages with code cells run the same
# way, converted by jupytext. `rm -rf _book` runs everything again.
STAGE := _book
NOTEBOOK_PAGES := $(wildcard notebooks/[0-9]*.ipynb) $(shell grep -l '^kernelspec:' book/*.md)
EXECUTED := $(addprefix $(STAGE)/,$(addsuffix .ipynb,$(basename $(NOTEBOOK_PAGES))))

book: data $(EXECUTED)  ## execute changed notebooks (nbmake), build the HTML book in _build/html
	mkdir -p $(STAGE)/book && cp -a _config.yml _toc.yml $(STAGE)/
	cp -a $(filter-out $(NOTEBOOK_PAGES),$(wildcard book/*)) $(STAGE)/book/
	$(BIN)/jupyter-book build $(STAGE) --path-output . -n -W --keep-going

$(STAGE)/%.key: FORCE
	@mkdir -p $(@D)
	@$(BIN)/python -m benchmarks.book key $* > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# The book's budget on a 2-core machine: notebook 02 trains its three models on a stratified
# subset of this many training images (MEDCNN_TRAIN_LIMIT; the release model is trained on
# all of them by `make model`, and notebook 02 shows it from its committed card).
$(STAGE)/%.ipynb: export MEDCNN_TRAIN_LIMIT ?= 4000
$(STAGE)/%.ipynb: $(STAGE)/%.key
	rm -rf $(STAGE)/run/$(*F) && mkdir -p $(STAGE)/run/$(*F)
	$(BIN)/jupytext --quiet --to ipynb -o $(STAGE)/run/$(*F)/$(*F).ipynb \
		$(firstword $(wildcard $*.ipynb $*.md))
	$(BIN)/python -m pytest -p no:cacheprovider --nbmake --nbmake-timeout=1800 --overwrite \
		--junitxml=$(STAGE)/$*.xml $(STAGE)/run/$(*F)/$(*F).ipynb
	mv $(STAGE)/run/$(*F)/$(*F).ipynb $@

.PRECIOUS: $(STAGE)/%.key
.PHONY: FORCE
FORCE:

browser:  ## Debian's chromium for the real-browser test (needs root or sudo)
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

serve: setup  ## the upload cell as a web app: Voilà on http://127.0.0.1:8866
	cd notebooks && ../$(BIN)/voila 05_predict.ipynb --no-browser --port=8866 --Voila.ip=127.0.0.1

app: setup  ## the Streamlit app on http://127.0.0.1:8501
	$(BIN)/streamlit run app/streamlit_app.py --server.address 127.0.0.1 --server.headless true

test: data lint book browser  ## unit, data and notebook tests, the built book's HTML, the browser
	$(BIN)/python -m pytest

bench: data  ## speed figures, each against a baseline of the same run: benchmarks/results.json
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf _build _book data/processed
