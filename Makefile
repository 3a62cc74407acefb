# wastelab: `make book` builds the executed book, `make test` runs the tests.
# Both create the virtual environment .venv on first use (PyPI is the only network needed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book

.PHONY: all setup book student test lint lock bench clean export-student export-instructor export-nbgrader

all: book

# Installs exactly the versions in constraints.txt (the lock; `make lock` refreshes it).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The full book, every chapter executed from a clean cache, warnings are errors.
book: $(STAMP)
	rm -rf _build
	$(BIN)/python -m tools.book_build --edition full
	$(BIN)/python -m tools.book_build --edition student

# The student edition alone (solutions removed), into _build/student/html.
student: $(STAMP)
	$(BIN)/python -m tools.book_build --edition student

# Jupyter notebooks for a course: make export-student | export-instructor | export-nbgrader
export-%: $(STAMP)
	$(BIN)/python -m tools.export --edition $* --out exports/$*

# The tests; those of the executed pages read the last `make book` (they skip without it).
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check wastelab tools tests bench
	$(BIN)/ruff format --check wastelab tools tests bench

# Refresh constraints.txt: resolve pyproject.toml's dependencies afresh in a scratch venv.
lock:
	rm -rf .lockvenv
	$(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --upgrade pip
	.lockvenv/bin/python -m pip install --quiet -e ".[dev]"
	.lockvenv/bin/python -m pip freeze --exclude-editable | grep -v '^wastelab' > constraints.txt
	rm -rf .lockvenv

bench: $(STAMP)
	$(BIN)/python bench/bench_speed.py
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python bench/bench_book.py

clean:
	rm -rf _build exports
