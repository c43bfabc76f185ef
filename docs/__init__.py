"""Reading pages: `make docs` renders each paper's code beside its annotations (docs/build.py)."""
