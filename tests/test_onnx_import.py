"""A float ONNX recognizer back into torch: the same outputs, batch norms that train, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from platelab.predict.charset import Charset  # noqa: E402
from platelab.predict.recognizer import RecognitionPredictor  # noqa: E402
from platelab.synth.dataset import SyntheticCropBatches  # noqa: E402
from platelab.synth.style import select_styles  # noqa: E402
from platelab.train import recognizer as training  # noqa: E402
from platelab.train.config import RecognizerTrainConfig  # noqa: E402
from platelab.train.onnx_import import OnnxImportError, recognizer_from_onnx  # noqa: E402
from platelab.train.recipe import export_run  # noqa: E402
from platelab.weights import default_model  # noqa: E402


def _synthetic_images(count: int, seed: int) -> torch.Tensor:
    return SyntheticCropBatches(select_styles(None), Charset(), count, seed).render_batch(0)[0]


def _onnx_probs(path: Path, images: torch.Tensor) -> np.ndarray:
    return RecognitionPredictor(path).session.run(None, {"image": images.numpy()})[0]


def test_the_bundled_float_recognizer_comes_back_with_its_outputs_and_trainable_norms() -> None:
    path = default_model("recognizer-float")
    model = recognizer_from_onnx(path, stats_crops=64)
    images = _synthetic_images(32, seed=123)
    expected = _onnx_probs(path, images)
    with torch.no_grad():
        assert np.abs(torch.softmax(model.eval()(images), -1).numpy() - expected).max() < 1e-4
        # in training mode each norm divides by its batch's spread: a norm left passing its input through
        # would rescale every layer and change the readings
        model.train()
        for dropout in (m for m in model.modules() if isinstance(m, torch.nn.Dropout)):
            dropout.eval()
        agree = (model(images).argmax(-1).numpy() == expected.argmax(-1)).mean()
    assert agree > 0.97


@pytest.mark.parametrize("head", ["slots", "ctc"])
def test_an_exported_run_imports_back_to_the_same_outputs(tmp_path: Path, head: str) -> None:
    cfg = RecognizerTrainConfig(out_dir=tmp_path / "run", head=head, steps=2, batch_size=4, workers=0, val_size=4,
                                val_every=100, checkpoint_every=2, warmup_steps=1, threads=1)
    training.train_recognizer(cfg)
    path = export_run(cfg.out_dir, tmp_path / "model.onnx")
    model = recognizer_from_onnx(path, stats_crops=16).eval()
    assert model.head_kind == head
    images = _synthetic_images(8, seed=5)
    with torch.no_grad():
        assert np.abs(torch.softmax(model(images), -1).numpy() - _onnx_probs(path, images)).max() < 1e-4


def test_a_training_stage_starts_from_an_onnx_recognizer(tmp_path: Path) -> None:
    first = RecognizerTrainConfig(out_dir=tmp_path / "first", head="ctc", steps=2, batch_size=4, workers=0,
                                  val_size=4, val_every=100, checkpoint_every=2, warmup_steps=1, threads=1)
    training.train_recognizer(first)
    path = export_run(first.out_dir, tmp_path / "first.onnx")
    imported = recognizer_from_onnx(path, stats_crops=16)
    second = first.model_copy(update={"out_dir": tmp_path / "second", "init_from": path, "steps": 1, "lr": 1e-12,
                                      "warmup_steps": 0})
    model = training.train_recognizer(second)
    for (name, a), b in zip(imported.state_dict().items(), model.state_dict().values()):
        if name.endswith(".weight") and a.dim() > 1:  # convolutions and the classifier; lr ~ 0 keeps them
            assert torch.allclose(a, b, atol=1e-6), name


def test_an_8bit_model_is_refused_with_the_way_to_the_float_one() -> None:
    with pytest.raises(OnnxImportError, match=r"8-bit.*recognizer-float\.onnx"):
        recognizer_from_onnx(default_model("recognizer"))


@pytest.mark.parametrize("content", [b"", b"not a model", b"\x08\x07" * 40])
def test_a_file_that_is_not_onnx_is_refused_by_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(OnnxImportError, match=r"broken\.onnx"):
        recognizer_from_onnx(path)


def test_the_detector_is_not_taken_for_a_recognizer() -> None:
    with pytest.raises(OnnxImportError, match="not a platelab recognizer"):
        recognizer_from_onnx(default_model("detector"))


def test_a_convolution_exported_without_its_zero_bias_imports_as_one(tmp_path: Path) -> None:
    import onnx

    source = default_model("recognizer-float")
    graph = onnx.load(str(source))
    first = next(node for node in graph.graph.node if node.op_type == "Conv")
    bias = next(t for t in graph.graph.initializer if t.name == first.input[2])
    bias.CopyFrom(onnx.numpy_helper.from_array(np.zeros(bias.dims, np.float32), bias.name))
    zero_bias = tmp_path / "zero-bias.onnx"
    onnx.save(graph, str(zero_bias))
    del first.input[2]  # as an exporter that drops a bias of zeros writes it: the same network
    no_bias = tmp_path / "no-bias.onnx"
    onnx.save(graph, str(no_bias))
    images = _synthetic_images(8, seed=7)
    np.testing.assert_allclose(_onnx_probs(no_bias, images), _onnx_probs(zero_bias, images), atol=1e-6)
    model = recognizer_from_onnx(no_bias, stats_crops=16).eval()
    with torch.no_grad():
        assert np.abs(torch.softmax(model(images), -1).numpy() - _onnx_probs(no_bias, images)).max() < 1e-4


def test_a_recognizer_of_another_input_size_is_refused_with_both_sizes(tmp_path: Path) -> None:
    import onnx

    graph = onnx.load(str(default_model("recognizer-float")))
    entry = next(e for e in graph.metadata_props if e.key == "input_size")
    entry.value = "[96, 48]"
    path = tmp_path / "small.onnx"
    onnx.save(graph, str(path))
    with pytest.raises(OnnxImportError, match=r"small\.onnx: input size \[96, 48\] is not this version's \[128, 64\]"):
        recognizer_from_onnx(path, stats_crops=0)
