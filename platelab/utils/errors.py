"""Errors a user can fix, in a module that imports nothing: the reading path catches them without loading YAML."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config or data file that cannot be used; the message names the file and the field."""
