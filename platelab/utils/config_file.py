"""Reading a YAML file into a pydantic model with an error that names the file and the field."""

from __future__ import annotations

import re
from difflib import get_close_matches
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from platelab.utils.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)
# libyaml's parser where PyYAML was built with it (its wheels are): the same data as the pure-Python one in a tenth
# of the time; parsing the 51 built-in styles was a quarter of `platelab read` with no input (its sample photo)
_SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_model_file(
    path: str | Path, model: type[Model], error: type[ConfigError] = ConfigError, defaults: dict[str, Any] | None = None
) -> Model:
    """The file as a model. A file with `extends: OTHER.yaml` (relative to it) holds only what differs from OTHER."""
    path = Path(path)
    data = file_fields(path, error)
    try:
        return model.model_validate({**(defaults or {}), **data})
    except ValidationError as exc:
        where, message = first_problem(exc)
        first = exc.errors()[0]
        if first["type"] == "extra_forbidden":  # most often a typo of a field the model has
            close = get_close_matches(str(first["loc"][-1]), _fields_at(model, first["loc"][:-1]), n=1)
            message += f"; did you mean {close[0]!r}?" if close else ""
        raise error(f"{path}: field {where}: {message}") from exc


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the (nested) model at loc, or none where loc leads elsewhere (a list, a mapping)."""
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """(the field, what is wrong with it) of a validation error's first problem, for a one-line message."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    # a check across fields has no location of its own; where it names the one it found wrong first, that is it
    named = None if where else _NAMED_FIELD.match(first["msg"])
    if named:
        return re.sub(r"\[(\d+)\]", r".\1", named["field"]), f"Value error, {named['problem']}"
    return where or "(top level)", first["msg"]


_NAMED_FIELD = re.compile(r"Value error, (?P<field>[a-z_]+(?:\[\d+\]|\.[a-z_0-9]+)*): (?P<problem>.+)", re.DOTALL)


def file_fields(path: Path, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The fields a file comes to, those of the files it extends merged in (as load_model_file reads them)."""
    return _read_fields(path, error, ())


def _read_fields(path: Path, error: type[ConfigError], extended_by: tuple[Path, ...]) -> dict[str, Any]:
    try:
        data = _parsed(path.read_text(encoding="utf-8"))
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


def _parsed(text: str) -> object:
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError:
        # parsed again by the pure-Python parser for its message, which quotes the line and names the character or
        # alias at fault (libyaml's gives only the place); a broken file is rare, so its cost does not matter
        return yaml.safe_load(text)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """base with changes applied; nested mappings are merged field by field."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
