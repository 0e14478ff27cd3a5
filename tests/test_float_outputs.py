"""quantize.float_outputs on small hand-built graphs: every output computed in float from its weighted layers,
whatever the order of the graph's nodes, with the outputs' names kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from platelab.train.quantize import float_outputs  # noqa: E402

X = np.array([[0.37, 0.81, 0.26]], np.float32)
W1 = np.array([[0.53, 0.12], [0.91, 0.44], [0.28, 0.67]], np.float32)
W2 = np.array([[0.31, 0.72], [0.15, 0.58], [0.86, 0.24]], np.float32)
W3 = np.array([[0.47, 0.19], [0.63, 0.95]], np.float32)
BIAS = np.array([3, 7], np.int32)  # an 8-bit layer's bias: int32 at the scale 0.01
STEP = 0.1  # the quantize-dequantize pairs' step: any output they round moves by up to 0.05


def _pair(name: str, source: str) -> list[onnx.NodeProto]:
    return [helper.make_node("QuantizeLinear", [source, "step", "zero"], [f"{name}_q"]),
            helper.make_node("DequantizeLinear", [f"{name}_q", "step", "zero"], [name])]


def _model(nodes: list[onnx.NodeProto], outputs: list[str]) -> onnx.ModelProto:
    read = {name for node in nodes for name in node.input}
    initializers = [numpy_helper.from_array(array, name) for name, array in
                    (("w1", W1), ("w2", W2), ("w3", W3), ("bias", BIAS), ("step", np.array(STEP, np.float32)),
                     ("zero", np.array(0, np.uint8)), ("bias_step", np.array(0.01, np.float32)),
                     ("bias_zero", np.array(0, np.int32))) if name in read]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 2]) for name in outputs],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": X})))


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-values))


def _assert_float(model: onnx.ModelProto, expected: dict[str, np.ndarray]) -> None:
    assert {o: np.abs(v - expected[o]).max() > 1e-3 for o, v in _run(model).items()} == dict.fromkeys(expected, True)
    got = _run(float_outputs(model))
    assert set(got) == set(expected)
    for name, values in got.items():
        np.testing.assert_allclose(values, expected[name], rtol=1e-6, err_msg=name)


def test_a_head_listed_before_the_last_weighted_layer_is_made_float_too() -> None:
    # the heat head's sigmoid sits before the corner head's second layer in the list, as onnxruntime may order them
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["heat_logits"]), *_pair("heat_dq", "heat_logits"),
             helper.make_node("Sigmoid", ["heat_dq"], ["heatmap"]),
             helper.make_node("MatMul", ["x", "w2"], ["hidden"]), *_pair("hidden_dq", "hidden"),
             helper.make_node("MatMul", ["hidden_dq", "w3"], ["corners_raw"]), *_pair("corners", "corners_raw")]
    model = _model(nodes, ["heatmap", "corners"])
    hidden = np.round(X @ W2 / STEP) * STEP  # read by a weighted layer: stays 8-bit
    _assert_float(model, {"heatmap": _sigmoid(X @ W1), "corners": hidden @ W3})
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Sigmoid", "MatMul", "QuantizeLinear",
                                                     "DequantizeLinear", "MatMul"]


def test_two_outputs_of_one_rounded_tensor_each_keep_their_name() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["logits"]),
             helper.make_node("QuantizeLinear", ["logits", "step", "zero"], ["logits_q"]),
             helper.make_node("DequantizeLinear", ["logits_q", "step", "zero"], ["first"]),
             helper.make_node("DequantizeLinear", ["logits_q", "step", "zero"], ["second"])]
    model = _model(nodes, ["first", "second"])
    _assert_float(model, {"first": X @ W1, "second": X @ W1})
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Identity"]


def test_an_8_bit_bias_stays_while_the_probabilities_after_it_are_float() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["product"]), *_pair("product_dq", "product"),
             helper.make_node("DequantizeLinear", ["bias", "bias_step", "bias_zero"], ["bias_dq"]),
             helper.make_node("Add", ["bias_dq", "product_dq"], ["logits"]), *_pair("logits_dq", "logits"),
             helper.make_node("Softmax", ["logits_dq"], ["softmax"]), *_pair("probs", "softmax")]
    logits = X @ W1 + BIAS * 0.01
    model = _model(nodes, ["probs"])
    _assert_float(model, {"probs": np.exp(logits) / np.exp(logits).sum(1, keepdims=True)})
    assert [n.op_type for n in model.graph.node] == ["MatMul", "DequantizeLinear", "Add", "Softmax"]


def test_a_rounded_tensor_a_weighted_layer_also_reads_stays_8_bit() -> None:
    # one pair read by the sigmoid that makes an output and by a weighted layer: that layer is quantized, so its
    # input stays rounded, and with it this output
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), *_pair("shared", "h"),
             helper.make_node("Sigmoid", ["shared"], ["heatmap"]),
             helper.make_node("MatMul", ["shared", "w3"], ["c"]), *_pair("corners", "c")]
    rounded = np.round(X @ W1 / STEP) * STEP
    got = _run(float_outputs(_model(nodes, ["heatmap", "corners"])))
    np.testing.assert_allclose(got["corners"], rounded @ W3, rtol=1e-6)
    np.testing.assert_allclose(got["heatmap"], _sigmoid(rounded), rtol=1e-6)


def test_a_quantize_that_a_kept_dequantize_still_reads_stays() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]),
             helper.make_node("QuantizeLinear", ["h", "step", "zero"], ["h_q"]),
             helper.make_node("DequantizeLinear", ["h_q", "step", "zero"], ["h_heat"]),
             helper.make_node("DequantizeLinear", ["h_q", "step", "zero"], ["h_weighted"]),
             helper.make_node("Sigmoid", ["h_heat"], ["heatmap"]),
             helper.make_node("MatMul", ["h_weighted", "w3"], ["c"]), *_pair("corners", "c")]
    rounded = np.round(X @ W1 / STEP) * STEP
    _assert_float(_model(nodes, ["heatmap", "corners"]), {"heatmap": _sigmoid(X @ W1), "corners": rounded @ W3})


def test_the_walk_back_stops_at_a_weighted_layer() -> None:
    # the pair before the sigmoid feeds a weighted layer's input, not an output: it stays
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), *_pair("h_dq", "h"),
             helper.make_node("Sigmoid", ["h_dq"], ["s"]),
             helper.make_node("MatMul", ["s", "w3"], ["c"]), *_pair("corners", "c")]
    rounded = np.round(X @ W1 / STEP) * STEP
    _assert_float(_model(nodes, ["corners"]), {"corners": _sigmoid(rounded) @ W3})


def test_an_output_that_is_another_outputs_float_source_keeps_its_name() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["raw"]), *_pair("rounded", "raw")]
    model = float_outputs(_model(nodes, ["raw", "rounded"]))
    got = _run(model)
    np.testing.assert_allclose(got["raw"], X @ W1, rtol=1e-6)
    np.testing.assert_allclose(got["rounded"], X @ W1, rtol=1e-6)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Identity"]
    assert [i.name for i in model.graph.initializer] == ["w1"]  # the pair's step and zero point go with it


def test_a_tensor_rounded_twice_is_followed_to_its_float_source() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), *_pair("once", "h"), *_pair("twice", "once")]
    _assert_float(_model(nodes, ["twice"]), {"twice": X @ W1})


def test_the_reference_script_gives_a_model_float_outputs_and_says_so_on_its_card(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from references.float_outputs import main

    path = tmp_path / "m.onnx"
    onnx.save(_model([helper.make_node("MatMul", ["x", "w1"], ["raw"]), *_pair("probs", "raw")], ["probs"]), str(path))
    card_path = path.with_suffix(".card.json")
    card_path.write_text(json.dumps({"int8": {}, "size_bytes": path.stat().st_size}))
    monkeypatch.setattr(sys, "argv", ["references/float_outputs.py", str(path)])
    main()
    card = json.loads(card_path.read_text())
    assert card["size_bytes"] == path.stat().st_size
    assert card["int8"]["float_outputs"]["command"] == f"python references/float_outputs.py {path}"
    np.testing.assert_allclose(_run(onnx.load(str(path)))["probs"], X @ W1, rtol=1e-6)


def test_a_quantized_model_is_written_into_a_new_folder_with_float_outputs(tmp_path: Path) -> None:
    from platelab.train.quantize import quantize

    source = tmp_path / "float.onnx"
    onnx.save(_model([helper.make_node("MatMul", ["x", "w1"], ["hidden"]),
                      helper.make_node("MatMul", ["hidden", "w3"], ["raw"]),
                      helper.make_node("Sigmoid", ["raw"], ["scores"])], ["scores"]), str(source))
    out = tmp_path / "new" / "int8.onnx"
    kept = quantize(source, out, [X * scale for scale in (0.5, 1.0, 1.5)], [])
    assert kept == [] and out.is_file()
    model = onnx.load(str(out))
    assert model.graph.node[-1].op_type == "Sigmoid" and model.graph.node[-1].output[0] == "scores"
    np.testing.assert_allclose(_run(model)["scores"], _sigmoid(X @ W1 @ W3), atol=0.02)  # 8-bit weights


def test_layers_to_keep_float_that_name_no_layer_are_refused_not_quantized(tmp_path: Path) -> None:
    from platelab.train.quantize import quantize

    source = tmp_path / "float.onnx"
    onnx.save(_model([helper.make_node("MatMul", ["x", "w1"], ["hidden"], name="/head/MatMul"),
                      helper.make_node("MatMul", ["hidden", "w3"], ["scores"], name="node_MatMul_7")], ["scores"]),
              str(source))
    batches = [X * scale for scale in (0.5, 1.0, 1.5)]
    assert quantize(source, tmp_path / "kept.onnx", batches, ["/head/"]) == ["/head/MatMul"]
    with pytest.raises(ValueError, match=r"no weighted layer named with '/classify/'"):
        quantize(source, tmp_path / "refused.onnx", batches, ["/head/", "/classify/"])
    assert not (tmp_path / "refused.onnx").exists()
