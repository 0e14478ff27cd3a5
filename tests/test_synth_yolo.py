"""`synth scenes --format yolo / yolo-pose`: the Ultralytics YOLO layout beside labels.tsv, agreeing with it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from platelab.cli import app
from platelab.io.labels import PhotoLabel, labelled_file, read_labels
from platelab.io.outputs import OutputError
from platelab.io.yolo import FLIP_INDEX, yolo_labels, yolo_line
from platelab.synth import writer
from platelab.synth.config import SynthConfig
from platelab.synth.scene import SceneConfig
from platelab.synth.style import select_styles

# small plain scenes with one to three plates: a few render in well under a second
CFG = SynthConfig(
    scene=SceneConfig(size=(320, 240), plate_width=(40.0, 120.0), plates=(1, 3), extra_plate_p=0.6, empty_p=0.0,
                      photo_p=0.0, distractor_p=0.0)
)
SIZE = CFG.scene.size


@pytest.fixture(scope="module")
def styles() -> list:
    return select_styles(["us-*"])


def _write(out: Path, styles: list, layout: str, count: int = 4) -> None:
    writer.write_scenes(out, count, styles, seed=7, cfg=CFG, progress=False, layout=layout)


def _rows(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def _visible(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.startswith("."))


def _fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("layout", ["yolo", "yolo-pose"])
def test_every_yolo_line_is_its_labels_tsv_plate(tmp_path: Path, styles: list, layout: str) -> None:
    _write(tmp_path, styles, layout)
    images = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert images == [f"scene_{i:06d}.jpg" for i in range(4)]
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == [f"scene_{i:06d}.txt" for i in range(4)]
    assert not list(tmp_path.glob("scene_*"))  # the images moved into images/, none left beside labels.tsv
    labels = read_labels(tmp_path, "photos")
    assert all(labelled_file(tmp_path, label.file).is_file() for label in labels)  # platelab's commands find them
    width, height = SIZE
    for name in images:
        plates = [label for label in labels if label.file == f"images/{name}"]
        rows = _rows(tmp_path / "labels" / f"{Path(name).stem}.txt")
        assert len(rows) == len(plates) > 0
        for row, plate in zip(rows, plates, strict=True):
            assert len(row) == (5 + 4 * 3 if layout == "yolo-pose" else 5) and row[0] == 0
            cx, cy, w, h = row[1] * width, row[2] * height, row[3] * width, row[4] * height
            np.testing.assert_allclose((cx - w / 2, cy - h / 2, w, h), plate.box, atol=1.0)
            if layout == "yolo-pose":
                corners = np.array(row[5:]).reshape(4, 3)
                assert (corners[:, 2] == 2).all()  # the renderer keeps every plate inside the frame
                # in the tsv's order: clockwise from the plate's top-left
                np.testing.assert_allclose(corners[:, :2] * (width, height), plate.quad, atol=0.01)


def test_a_plate_at_the_frame_edge_is_clipped_and_one_outside_dropped() -> None:
    size = (100, 50)

    def line(box: tuple[int, int, int, int], quad=None, corners: bool = False) -> list[float] | None:
        text = yolo_line(PhotoLabel("a.jpg", "ABC123", box, quad), size, corners)
        return None if text is None else [float(v) for v in text.split()]

    assert line((10, 5, 20, 10)) == [0, 0.2, 0.2, 0.2, 0.2]
    assert line((-10, 5, 30, 20)) == [0, 0.1, 0.3, 0.2, 0.4]  # left part cut off: x 0..20
    assert line((90, 40, 20, 20)) == [0, 0.95, 0.9, 0.1, 0.2]  # right and bottom cut off: x 90..100, y 40..50
    for outside in ((120, 10, 10, 10), (-30, 0, 30, 10), (100, 0, 10, 10), (0, 50, 10, 10), (0, -20, 10, 20)):
        assert line(outside) is None, outside
    quad = ((-5.0, 10.0), (25.0, 10.0), (25.0, 20.0), (-5.0, 20.0))
    row = line((-5, 10, 30, 10), quad, corners=True)
    assert row is not None
    assert row[:5] == [0, 0.125, 0.3, 0.25, 0.2]
    # the corners outside the image are unlabelled (0 0 0), the rest kept in order
    assert row[5:] == [0, 0, 0, 0.25, 0.2, 2, 0.25, 0.4, 2, 0, 0, 0]
    edge = line((90, 40, 10, 10), ((90.0, 40.0), (100.0, 40.0), (100.0, 50.0), (90.0, 50.0)), corners=True)
    assert edge is not None and edge[5:] == [0.9, 0.8, 2, 1, 0.8, 2, 1, 1, 2, 0.9, 1, 2]  # the far edge is in
    with pytest.raises(ValueError, match="no 4 corners"):
        yolo_line(PhotoLabel("a.jpg", "ABC123", (10, 5, 20, 10)), size, corners=True)
    kept = PhotoLabel("a.jpg", "ABC123", (10, 5, 20, 10))
    dropped = PhotoLabel("a.jpg", "XYZ789", (200, 5, 20, 10))
    assert yolo_labels([dropped, kept, dropped], size) == "0 0.200000 0.200000 0.200000 0.200000\n"
    assert yolo_labels([], size) == ""  # a scene without plates: an empty file, a background image


def test_flip_index_keeps_the_corners_in_their_order() -> None:
    quad = np.array([[10.0, 10.0], [50.0, 14.0], [48.0, 30.0], [12.0, 28.0]])  # TL, TR, BR, BL
    mirrored = np.column_stack([100 - quad[:, 0], quad[:, 1]])
    top_left, top_right, bottom_right, bottom_left = mirrored[list(FLIP_INDEX)]
    assert top_left[0] < top_right[0] and bottom_left[0] < bottom_right[0]
    assert top_left[1] < bottom_left[1] and top_right[1] < bottom_right[1]


@pytest.mark.parametrize("layout", ["yolo", "yolo-pose"])
def test_data_yaml_names_the_images_and_the_one_class(tmp_path: Path, styles: list, layout: str) -> None:
    _write(tmp_path, styles, layout, count=1)
    data = yaml.safe_load((tmp_path / "data.yaml").read_text(encoding="utf-8"))
    pose = {"kpt_shape": [4, 3], "flip_idx": [1, 0, 3, 2]} if layout == "yolo-pose" else {}
    # no 'path': Ultralytics then resolves train and val from the YAML's own folder, wherever the set is moved
    assert data == {"train": "images", "val": "images", "names": {0: "plate"}, **pose}
    assert (tmp_path / data["train"]).is_dir()


def test_a_second_run_replaces_the_set_and_keeps_off_other_files(tmp_path: Path, styles: list,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "set"
    _write(out, styles, "yolo-pose", count=4)
    (out / "labels.cache").write_bytes(b"Ultralytics' cache of the old labels")
    _write(out, styles, "yolo", count=2)  # a smaller set in the same folder: nothing of the larger one is left
    assert _visible(out) == ["data.yaml", "images", "images/scene_000000.jpg", "images/scene_000001.jpg",
                             "labels", "labels.tsv", "labels/scene_000000.txt", "labels/scene_000001.txt"]
    assert all(len(row) == 5 for txt in (out / "labels").iterdir() for row in _rows(txt))
    _write(out, styles, "tsv", count=1)  # back to the flat layout
    assert _visible(out) == ["labels.tsv", "scene_000000.jpg"]

    _write(out, styles, "yolo", count=2)
    (out / "images" / "holiday.jpg").write_bytes(b"a photo Ultralytics would train on unlabelled")
    before = _fingerprint(out)
    with pytest.raises(OutputError, match=r"holds holiday\.jpg"):
        _write(out, styles, "yolo")
    assert _fingerprint(out) == before
    result = CliRunner().invoke(app, ["synth", "scenes", "--out", str(out), "--count", "1", "--format", "yolo"])
    assert result.exit_code == 2 and "holds holiday.jpg" in result.output
    assert _fingerprint(out) == before
    (out / "images" / "holiday.jpg").unlink()

    theirs = tmp_path / "their-yolo-set"  # someone else's dataset, never marked by platelab
    (theirs / "images").mkdir(parents=True)
    (theirs / "images" / "scene_000000.jpg").write_bytes(b"their photo")
    with pytest.raises(OutputError, match="holds files platelab did not write"):
        _write(theirs, styles, "yolo")
    assert (theirs / "images" / "scene_000000.jpg").read_bytes() == b"their photo"

    real_render = writer.render_scene

    def cut_short(*args: object, **kwargs: object) -> object:
        if len(list((out / "images").glob("scene_*.jpg"))) == 1:
            raise KeyboardInterrupt
        return real_render(*args, **kwargs)

    monkeypatch.setattr(writer, "render_scene", cut_short)
    with pytest.raises(KeyboardInterrupt):
        _write(out, styles, "yolo")
    # no labels naming the old set's images, no dataset file to train on half a set
    assert _visible(out) == ["images", "images/scene_000000.jpg", "labels"]


def test_cli_writes_the_yolo_layout(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "scenes", "--out", str(tmp_path), "--count", "1", "--format",
                                      "yolo-pose", "--styles", "us-*"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "data.yaml") in result.output
    assert (tmp_path / "labels" / "scene_000000.txt").is_file() and (tmp_path / "images" / "scene_000000.jpg").is_file()
    bad = CliRunner().invoke(app, ["synth", "scenes", "--out", str(tmp_path), "--format", "yolo-obb"])
    assert bad.exit_code == 2 and "yolo-obb" in bad.output


def test_an_interrupted_writes_hidden_file_does_not_refuse_the_next_set(tmp_path: Path, styles: list) -> None:
    out = tmp_path / "set"
    _write(out, styles, "yolo", count=1)
    (out / "images" / ".scene_000001.jpg.tmp").write_bytes(b"half a JPEG")  # Ultralytics' glob skips it too
    _write(out, styles, "yolo", count=1)
    assert (out / "images" / "scene_000000.jpg").exists() and (out / "data.yaml").exists()
