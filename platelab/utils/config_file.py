"""Reading a YAML file into a pydantic model with an error that names the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """A config or data file that cannot be used; the message names the file and the field."""


def load_model_file(
    path: str | Path, model: type[Model], error: type[ConfigError] = ConfigError, defaults: dict | None = None
) -> Model:
    """The file as a model. A file with `extends: OTHER.yaml` (relative to it) holds only what differs from OTHER."""
    path = Path(path)
    data = _read_fields(path, error, ())
    try:
        return model.model_validate({**(defaults or {}), **data})
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise error(f"{path}: field {where}: {message}") from exc


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """(the field, what is wrong with it) of a validation error's first problem, for a one-line message."""
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "(top level)", first["msg"]


def _read_fields(path: Path, error: type[ConfigError], extended_by: tuple[Path, ...]) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read: {' '.join(str(exc).split())}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: must hold a mapping of fields")
    if "extends" not in data:
        return data
    base = path.parent / str(data.pop("extends"))
    if base.resolve() in extended_by:
        raise error(f"{path}: extends {base.name}, which extends it back")
    return _merged(_read_fields(base, error, (*extended_by, path.resolve())), data)


def _merged(base: dict, changes: dict) -> dict:
    """base with changes applied; nested mappings are merged field by field."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
