"""Reading a YAML file into a pydantic model with an error that names the file and the field."""

from __future__ import annotations

import re
from difflib import get_close_matches
from pathlib import Path
from stat import S_ISREG
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from platelab.utils.errors import ConfigError, escaped, shown

Model = TypeVar("Model", bound=BaseModel)
# libyaml's parser where PyYAML was built with it (its wheels are): the same data as the pure-Python one in a tenth
# of the time; parsing the 51 built-in styles was a quarter of `platelab read` with no input (its sample photo)
_FAST_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLoader(_FAST_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader, -0.0 read as 0.0: a setting's checks let it through as 0 (-0.0 >= 0), and numpy then draws
    from the range (0.0, -0.0) no more than from a reversed one, part-way through a run."""


class _MessageLoader(yaml.SafeLoader):  # type: ignore[misc]
    """The pure-Python safe loader, for its messages, reading floats as _SafeLoader does."""


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    value: float = loader.construct_yaml_float(node)
    return value + 0.0  # -0.0 + 0.0 is 0.0; every other float is itself


for _loader in (_SafeLoader, _MessageLoader):
    _loader.add_constructor("tag:yaml.org,2002:float", _float)

# A style, a synthesis config or a recipe is a few kilobytes: a file over this is not one (a photo, a model, a log),
# and would be read whole into memory first
MAX_FILE_BYTES = 10_000_000
# Files extended one from another: a handful in practice (the shipped recipes chain up to 11)
MAX_EXTENDS = 64


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
        raise error(escaped(f"{path}: field {where}: {message}")) from exc  # a quoted key may hold a line break


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
    # a field's name is the file's, and an unknown one (a quoted key) may be any length
    where = ".".join(shown(part, quoted=False) for part in first["loc"])
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
        info = path.stat()
        if not S_ISREG(info.st_mode):  # a FIFO or a device (/dev/zero) would be read without end
            raise error(f"{path}: cannot read: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise error(f"{path}: cannot read: {info.st_size} bytes; a config file may have {MAX_FILE_BYTES}")
        data = _parsed(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read: {' '.join(str(exc).split())}") from exc
    except RecursionError:  # nested deeper than the parser or a merge can go: no config is
        raise error(f"{path}: cannot read: nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: must hold a mapping of fields")
    if "extends" not in data:
        return data
    extends = data.pop("extends")
    if not isinstance(extends, str) or not extends.strip() or "\0" in extends:
        raise error(f"{path}: field extends: the file it extends, relative to it; got {shown(extends)}")
    if len(extended_by) >= MAX_EXTENDS:
        raise error(f"{path}: extends {shown(extends, quoted=False)}, more than {MAX_EXTENDS} files deep")
    base = path.parent / extends
    try:
        resolved = base.resolve()
        base.stat()  # one that is not there is said of the file naming it, where the slip is
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python before 3.13)
        # an OSError's own text repeats the path, whole
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
        raise error(f"{path}: extends {shown(extends, quoted=False)}, which cannot be read: {problem}") from exc
    if resolved in extended_by:
        raise error(f"{path}: extends {base.name}, which extends it back")
    try:
        return _merged(_read_fields(base, error, (*extended_by, path.resolve())), data)
    except RecursionError:
        raise error(f"{path}: cannot read: nested too deeply") from None


def _parsed(text: str) -> object:
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        # parsed again by the pure-Python parser for its message, which quotes the line and names the character or
        # alias at fault (libyaml's gives only the place); a broken file is rare, so its cost does not matter. One
        # libyaml refuses for its nesting (over 1000 deep) would exhaust the pure-Python parser's recursion: libyaml's
        # own message then
        try:
            return yaml.load(text, Loader=_MessageLoader)
        except RecursionError:
            raise exc from None


def _merged(base: dict[str, Any], changes: dict[str, Any], done: dict[tuple[int, int], Any] | None = None
            ) -> dict[str, Any]:
    """base with changes applied; nested mappings are merged field by field. A pair of mappings met again (a YAML
    alias, written once and used many times) is merged once: merging each use afresh takes time exponential in
    how often aliases nest."""
    done = {} if done is None else done
    pair = (id(base), id(changes))
    if pair in done:
        return done[pair][0]  # type: ignore[no-any-return]
    out = dict(base)
    for key, value in changes.items():
        out[key] = (_merged(out[key], value, done) if isinstance(value, dict) and isinstance(out.get(key), dict)
                    else value)
    done[pair] = (out, base, changes)  # holding both, so their ids cannot be reused while done lives
    return out
