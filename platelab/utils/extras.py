"""How to install one of platelab's optional extras, said the way that works where platelab runs."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def install_hint(extra: str) -> str:
    """How to add an extra: from the clone when platelab runs from one, else by name. An installed wheel has no
    platelab folder to run `pip install -e` in; pip keeps the installed platelab and adds the extra's packages."""
    pyproject = PACKAGE_DIR.parent / "pyproject.toml"
    try:
        in_clone = 'name = "platelab"' in pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        in_clone = False
    return f'pip install -e ".[{extra}]" in the platelab folder' if in_clone else f'pip install "platelab[{extra}]"'
