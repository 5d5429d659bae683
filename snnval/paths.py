"""Where the project's data live (the suite runs from a checkout: `pip install -e .`)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCES_DIR = REPO_ROOT / "references"
REPORTS_DIR = REPO_ROOT / "reports"
