"""Errors a user can fix, in a module that imports only the standard library: the reading path catches them without
loading YAML."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


class ConfigError(ValueError):
    """A config or data file that cannot be used; the message names the file and the field."""


def escaped(text: str) -> str:
    """text with each character that is not printable (a line break, a tab, another control character) written as
    its escape: a file name or a quoted value stays within its one line, or its one field of a line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


# An error is one line a user reads: a value echoed in it (a config's field, a style's pattern, a font's file) is cut
# to about this many characters, so a 10,000-character string where a number was expected does not fill the terminal
SHOWN_CHARACTERS = 80
# of those, the value's end: a path's file name, a quoted value's closing quote
_SHOWN_END = 20


def named_characters(characters: Iterable[str]) -> str:
    """Characters as an error lists them, each beyond ASCII with its code point and Unicode name: a Cyrillic look-alike
    'А' looks just like the A beside it."""
    return ", ".join(repr(c) if c.isascii() else f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})"
                     for c in characters)


def shown(value: object, quoted: bool = True) -> str:
    """value as an error message quotes it (its repr); where longer than SHOWN_CHARACTERS, its start and end with an
    ellipsis between and its full length after. quoted=False: a name (a field's, a file's) as it is where short, a
    line break or another unprintable character in it escaped."""
    text = repr(value)
    if not quoted and len(str(value)) <= SHOWN_CHARACTERS:
        return escaped(str(value))
    if len(text) <= SHOWN_CHARACTERS:
        return text
    size = len(value) if isinstance(value, str) else len(text)  # a string's own length, not its quoted one's
    return f"{text[:SHOWN_CHARACTERS - _SHOWN_END - 1]}…{text[-_SHOWN_END:]} ({size} characters)"
