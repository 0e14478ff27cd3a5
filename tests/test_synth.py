"""Synthetic crops: seeded, labelled with what was drawn, geometry that lands on the plate, CLI outputs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.eval.metrics import char_error_rate
from platelab.io.labels import read_labels
from platelab.synth.camera import CameraConfig, LightConfig
from platelab.synth.config import SceneCropConfig, SynthConfig, describe
from platelab.synth.crops import CropGenerator
from platelab.synth.fonts import DieShapes, draws_alike
from platelab.synth.geometry import GeometryConfig
from platelab.synth.render import render_plate, warp_ink
from platelab.synth.style import FontChoice, PlateFormat, builtin_styles
from platelab.synth.surroundings import SurroundConfig


def _switched_off(model: type) -> dict[str, float]:
    """Every probability field of a config at zero: the effect never happens."""
    return {name: 0.0 for name in model.model_fields if name.endswith("_p")}


CLEAN = SynthConfig(
    light=LightConfig(**_switched_off(LightConfig)),
    camera=CameraConfig(**_switched_off(CameraConfig)),
    surround=SurroundConfig(**_switched_off(SurroundConfig)),
    geometry=GeometryConfig(yaw=(0, 0), pitch=(0, 0), roll=(0, 0), pad_x=(0, 0), pad_y=(0, 0), aspect_jitter=0),
)


def test_crops_are_seeded() -> None:
    styles = list(builtin_styles().values())
    a, b = CropGenerator(styles, seed=5), CropGenerator(styles, seed=5)
    for i in range(20):
        x, y = a.sample(i), b.sample(i)
        assert x.text == y.text and x.image.tobytes() == y.image.tobytes()
    assert a.sample(0).image.tobytes() != CropGenerator(styles, seed=6).sample(0).image.tobytes()


def test_untilted_tight_crop_is_the_plate_and_boxes_sit_inside() -> None:
    width, height = CLEAN.crop_size
    for style in list(builtin_styles().values())[::5]:
        crop = CropGenerator([style], CLEAN, seed=1).sample(0)
        expected = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        assert np.abs(crop.quad - expected).max() < 1.0
        boxes = crop.char_boxes
        assert len(boxes) == len(crop.text)
        assert (boxes[:, :2] >= -1).all() and (boxes[:, 2] <= width + 1).all() and (boxes[:, 3] <= height + 1).all()


def test_tilted_crops_keep_characters_inside_the_quad() -> None:
    styles = list(builtin_styles().values())
    generator = CropGenerator(styles, SynthConfig(), seed=2)
    for i in range(30):
        crop = generator.sample(i)
        quad = crop.quad
        # clockwise from top-left in image coordinates: positive signed area with y pointing down
        area = 0.5 * sum(quad[k, 0] * quad[(k + 1) % 4, 1] - quad[(k + 1) % 4, 0] * quad[k, 1] for k in range(4))
        assert area > 0
        centres = np.stack([(crop.char_boxes[:, 0] + crop.char_boxes[:, 2]) / 2,
                            (crop.char_boxes[:, 1] + crop.char_boxes[:, 3]) / 2], 1)
        lo, hi = quad.min(0) - 1, quad.max(0) + 1
        assert ((centres >= lo) & (centres <= hi)).all()


def test_crops_cut_into_the_plate_but_never_into_a_character() -> None:
    deep_cut = GeometryConfig(pad_x=(-0.45, -0.45), pad_y=(-0.45, -0.45))
    generator = CropGenerator(list(builtin_styles().values()), SynthConfig(geometry=deep_cut), seed=3)
    width, height = SynthConfig().crop_size
    for i in range(40):
        crop = generator.sample(i)
        boxes = crop.char_boxes
        assert (boxes[:, :2] >= -0.5).all() and (boxes[:, 2] <= width + 0.5).all(), (i, crop.text, boxes)
        assert (boxes[:, 3] <= height + 0.5).all(), (i, crop.text, boxes)
        # and the cut is real: the plate's corners fall outside the crop
        assert (crop.quad.min(0) < 0).any() or (crop.quad.max(0) > (width, height)).any()


def test_bent_ink_stays_within_the_shift_it_reports() -> None:
    ink = np.zeros((96, 192), np.uint8)
    ink[20:76, 30:40] = ink[20:30, 30:70] = 255
    assert warp_ink(ink, np.random.default_rng(0), 56, 0.0)[0].tobytes() == ink.tobytes()
    for seed in range(5):
        bent, shift = warp_ink(ink, np.random.default_rng(seed), 56, 0.035)
        assert 0 < shift < 56 * 0.035 * 5 and bent.tobytes() != ink.tobytes()
        ys, xs = np.nonzero(bent)
        assert xs.min() >= 30 - shift - 1 and xs.max() <= 69 + shift + 1
        assert ys.min() >= 20 - shift - 1 and ys.max() <= 75 + shift + 1


@pytest.mark.parametrize("glyph_warp", [0.0, SynthConfig().glyph_warp[1]])
def test_an_independent_reader_reads_the_labelled_text(glyph_warp: float) -> None:
    """Tesseract, knowing nothing of platelab, reads the character row of clean one-row renders, bent or not."""
    pytest.importorskip("tesserocr")
    from platelab.eval.peers import TesseractReader, tessdata_path

    try:
        tessdata_path()
    except RuntimeError as missing:  # the Debian package .ci/apt-packages.txt installs
        pytest.skip(str(missing))

    tesseract = TesseractReader()
    one_row = [s for s in builtin_styles().values() if len(s.rows) == 1][::3]
    errors = []
    for i, style in enumerate(one_row):
        for j in range(2):
            plate = render_plate(style, np.random.default_rng([i, j]), height=120, glyph_warp=glyph_warp)
            boxes = plate.char_boxes
            x0, y0 = np.floor(boxes[:, :2].min(0)).astype(int) - 6
            x1, y1 = np.ceil(boxes[:, 2:].max(0)).astype(int) + 6
            row = plate.image[max(y0, 0) : y1, max(x0, 0) : x1]
            errors.append(char_error_rate(plate.text, tesseract.read(row)))
    # Tesseract itself confuses J/I, 0/O and reads emblems as characters; a wrong label would cost far more.
    assert np.mean(errors) < 0.15 and np.mean(np.array(errors) == 0) >= 0.5, errors


def test_cli_writes_crops_scenes_labels_and_previews(tmp_path: Path) -> None:
    runner = CliRunner()
    for kind in ("crops", "scenes"):
        outs = [tmp_path / f"{kind}{n}" for n in (1, 2)]
        for out in outs:
            result = runner.invoke(app, ["synth", kind, "--count", "4", "--out", str(out), "--seed", "3", "--preview"])
            assert result.exit_code == 0, result.output
        files = sorted(p.name for p in outs[0].iterdir())
        assert "labels.tsv" in files and "preview.png" in files
        for name in files:
            assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
        labels = read_labels(outs[0])
        assert all((outs[0] / label.file).exists() and label.plate for label in labels)
    assert all(label.quad is not None for label in read_labels(tmp_path / "scenes1"))


def test_cli_reports_unknown_styles_and_bad_configs(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["synth", "crops", "--out", str(tmp_path), "--styles", "atlantis-*"])
    assert result.exit_code == 2 and "no style matches atlantis-*" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera: {jpeg_p: 3}\n")
    result = runner.invoke(app, ["synth", "crops", "--out", str(tmp_path), "--config", str(bad)])
    assert result.exit_code == 2 and "camera.jpeg_p" in result.output
    for kind in ("crops", "scenes"):  # a count past C's integers: a traceback, and the folder left behind
        result = runner.invoke(app, ["synth", kind, "--out", str(tmp_path / kind), "--count", str(10**20)])
        assert result.exit_code == 2 and "less than or equal to 10000000" in result.output
        assert not (tmp_path / kind).exists()


def test_config_description_lists_every_parameter() -> None:
    text = describe()
    for name in ("crop_size", "yaw", "jpeg_p", "shadow_p", "frame_p", "plate_width"):
        assert re.search(rf"^\s*{name}: ", text, re.M), name


def test_a_face_that_draws_o_as_its_0_labels_the_shape_as_the_country_writes_it() -> None:
    assert draws_alike("RG2014D.ttf", "O", "0") and not draws_alike("LiberationSansNarrow-Bold.ttf", "O", "0")
    assert not draws_alike("RG2014D.ttf", "O", "0", 0, DieShapes(box_zero=True))  # the die's boxed 0 is not its O
    # a pixel wider at 64 px cap height: one shape; Tiresias's O, 5 px wider than its 0: two
    assert draws_alike("RG2014B.ttf", "O", "0") and not draws_alike("tiresias_lpfont_bold.ttf", "O", "0")
    maryland = builtin_styles()["us-maryland"]

    def texts(pattern: str, font: str) -> str:
        style = maryland.model_copy(update={"formats": [PlateFormat(patterns=[pattern])],
                                            "fonts": [FontChoice(file=font)]})
        return "".join(render_plate(style, np.random.default_rng(i)).text for i in range(200))

    # The US writes the round shape as 0 where a 0 can stand (synth/countries.yaml), so no label asks for an O that
    # no image shows; a letter place, or a face whose O is not its 0, keeps the O.
    vanity = texts("AAAAAAA", "RG2014D.ttf")
    assert "O" not in vanity and vanity.count("0") > 1.5 * vanity.count("1")  # the Os are written as 0s
    assert "O" in texts("LLLNNNN", "RG2014D.ttf")
    assert "O" in texts("AAAAAAA", "LiberationSansNarrow-Bold.ttf")
    # a text given is drawn and labelled as given: the caller asked for those characters
    style = maryland.model_copy(update={"formats": [PlateFormat(patterns=["AAAAAAA"])],
                                        "fonts": [FontChoice(file="RG2014D.ttf")]})
    assert render_plate(style, np.random.default_rng(0), text="OOO0OOO").text == "OOO0OOO"


def test_crops_cut_from_scenes_are_seeded_and_read_as_labelled() -> None:
    from platelab.api import Recognizer

    cut = SceneCropConfig(p=1.0, plate_width=(150.0, 200.0), jitter=0.02)
    styles = [s for s in builtin_styles().values() if s.prior_country == "us"]
    cfg = SynthConfig(scene_crop=cut)
    a, b = CropGenerator(styles, cfg, seed=4), CropGenerator(styles, cfg, seed=4)
    crops = [a.sample(i) for i in range(40)]
    assert all(c.image.tobytes() == b.sample(i).image.tobytes() for i, c in enumerate(crops[:5]))
    assert all(c.style == "scene" and c.image.shape[0] >= 64 for c in crops)
    assert not any(CropGenerator(styles, SynthConfig(), seed=4).sample(i).style == "scene" for i in range(20))
    # large plates cut from scenes read about as well as the engine's own crops: the label is what the cut shows
    readings = Recognizer().read([c.image for c in crops])
    assert np.mean([r.text == c.text for r, c in zip(readings, crops)]) >= 0.75


def test_scenes_without_plates_are_listed_and_eval_counts_their_false_plates(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from platelab.cli import app
    from platelab.io.labels import read_photo_set
    from platelab.synth.style import select_styles
    from platelab.synth.writer import write_scenes

    empty = SynthConfig.model_validate({"scene": {"empty_p": 1.0}})
    write_scenes(tmp_path, 3, select_styles(["us-texas"]), seed=1, cfg=empty, progress=False)
    labels, files = read_photo_set(tmp_path)
    assert labels == [] and files == ["scene_000000.jpg", "scene_000001.jpg", "scene_000002.jpg"]
    result = CliRunner().invoke(app, ["eval", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["n_photos"], figures["n_plates"]) == (3, 0)
    assert figures["n_false"] == len(figures["false_plates"])


def test_each_seed_and_index_is_its_own_sample() -> None:
    styles = list(builtin_styles().values())
    seed5, seed6 = CropGenerator(styles, seed=5), CropGenerator(styles, seed=6)
    # a stream keyed on seed + index would give seed 5's second crop as seed 6's first
    assert seed5.sample(1).image.tobytes() != seed6.sample(0).image.tobytes()


def test_the_default_engine_draws_a_crop_from_its_own_stream_alone() -> None:
    from platelab.synth.crops import render_crop, sample_rng

    # scene crops and bent glyphs off make no draw of their own: the default engine's seeded crops stay as they were
    styles = list(builtin_styles().values())
    cfg = SynthConfig()
    for index in range(3):
        crop = CropGenerator(styles, cfg, seed=9).sample(index)
        alone = render_crop(styles, sample_rng(9, index), cfg)
        assert (crop.text, crop.image.tobytes()) == (alone.text, alone.image.tobytes())


def test_labels_tsv_holds_each_scenes_plates_as_drawn(tmp_path: Path) -> None:
    from platelab.synth.crops import sample_rng
    from platelab.synth.scene import render_scene
    from platelab.synth.writer import write_scenes

    styles = [builtin_styles()["us-texas"], builtin_styles()["eu-de"]]
    cfg = SynthConfig.model_validate({"scene": {"size": [320, 240], "plate_width": [60, 150], "empty_p": 0.0}})
    write_scenes(tmp_path, 3, styles, seed=2, cfg=cfg, progress=False)
    expected = [
        (f"scene_{i:06d}.jpg", p.text, p.box, [tuple(map(float, corner)) for corner in p.quad])
        for i in range(3)
        for p in render_scene(styles, sample_rng(2, i), cfg.scene, cfg.light, cfg.camera).plates
    ]
    labels = read_labels(tmp_path)
    assert expected and [(x.file, x.plate, x.box, list(x.quad or ())) for x in labels] == expected


def test_a_new_crop_set_replaces_the_old_and_labels_go_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab.synth import writer

    styles = [builtin_styles()["eu-de"]]
    writer.write_crops(tmp_path, 3, styles, progress=False)
    writer.write_crops(tmp_path, 1, styles, progress=False)
    assert sorted(p.name for p in tmp_path.glob("crop_*")) == ["crop_000000.png"]

    def broken(self: CropGenerator, index: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.CropGenerator, "sample", broken)
    with pytest.raises(KeyboardInterrupt):
        writer.write_crops(tmp_path, 2, styles, progress=False)
    assert not (tmp_path / "labels.tsv").exists()  # a set cut short has no labels rather than the last set's
