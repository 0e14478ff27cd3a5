"""Errors a user can fix, in a module that imports nothing: the reading path catches them without loading YAML."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config or data file that cannot be used; the message names the file and the field."""


def escaped(text: str) -> str:
    """text with each character that is not printable (a line break, a tab, another control character) written as
    its escape: a file name or a quoted value stays within its one line, or its one field of a line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
