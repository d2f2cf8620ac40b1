"""Sphinx configuration for retro-gamer's documentation.

The reference tables (game fields, hyperparameters) and the CLI reference are
written into the pages by scripts/docs_tables.py, so that the pages are complete
in the repository too; tests/test_docs_tables.py fails while one is stale.
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

project = "retro-gamer"
author = "the retro-gamer developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "benchmarks.md", "images"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
