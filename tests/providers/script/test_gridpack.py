"""Putting float32 weights back on their GGUF Q4_1 grid (pipeline/providers/script/_gridpack.py): exact recovery,
and a repacked graph that ONNX Runtime runs to the float32 graph's results. Small synthetic matrices; no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.providers.script import _gridpack

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def q4_1_weight(k: int, n: int, seed: int = 0):
    """A float32 [K, N] weight as transformers dequantizes a Q4_1 GGUF tensor: blocks of 32 along K, each
    float32(d) * q + float32(m) with d, m float16 and q in 0..15 (0 and 15 both present, as Q4_1 makes them)."""
    rng = np.random.default_rng(seed)
    blocks = k // 32
    d = rng.uniform(0.0005, 0.03, size=(n, blocks)).astype(np.float16).astype(np.float32)
    m = -rng.uniform(0.0, 0.2, size=(n, blocks)).astype(np.float16).astype(np.float32)
    q = rng.integers(0, 16, size=(n, blocks, 32)).astype(np.uint8)
    q[..., 0], q[..., 1] = 0, 15
    w = d[..., None] * q.astype(np.float32) + m[..., None]
    return w.reshape(n, k).T.copy(), q, d, m


def test_recovers_the_exact_grid():
    w, q, d, m = q4_1_weight(96, 40)
    got = _gridpack.recover_q4_1(w)
    assert got is not None
    got_q, got_d, got_m = got
    assert np.array_equal(got_d[..., None] * got_q.astype(np.float32) + got_m[..., None], w.T.reshape(40, 3, 32))
    assert np.array_equal(got_q, q) and np.array_equal(got_d, d) and np.array_equal(got_m, m)


def test_refuses_weights_off_the_grid():
    w, *_ = q4_1_weight(64, 8)
    nudged = w.copy()
    nudged[5, 3] = np.nextafter(nudged[5, 3], np.float32(1))  # one value one ulp off its block's grid
    assert _gridpack.recover_q4_1(nudged) is None
    assert _gridpack.recover_q4_1(np.random.default_rng(1).standard_normal((64, 8)).astype(np.float32)) is None
    assert _gridpack.recover_q4_1(w[:48]) is None  # K not a multiple of 32


def matmul_model(folder: Path, weights: dict[str, np.ndarray]) -> None:
    """x [1, S, 64] -> x @ A, and (x @ A) @ B: one MatMul on a grid, one whose K is too small for a block."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("MatMul", ["x", "A"], ["h"], name="a"),
        helper.make_node("MatMul", ["h", "B"], ["y"], name="b"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "s", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "s", 24])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(folder / _gridpack.MODEL_FILE), save_as_external_data=True, location=_gridpack.DATA_FILE)


def test_repacked_graph_computes_the_same(tmp_path):
    a, *_ = q4_1_weight(64, 40, seed=2)
    b = np.random.default_rng(3).standard_normal((40, 24)).astype(np.float32)
    matmul_model(tmp_path, {"A": a, "B": b})
    staging = tmp_path / "repacked"
    assert _gridpack.repack(tmp_path, staging) == 1
    repacked = onnx.load(str(staging / _gridpack.MODEL_FILE))
    ops = [n.op_type for n in repacked.graph.node]
    assert ops.count("MatMulNBits") == 1 and "A" not in {t.name for t in repacked.graph.initializer}
    x = np.random.default_rng(4).standard_normal((1, 5, 64)).astype(np.float32)
    before = ort.InferenceSession(str(tmp_path / _gridpack.MODEL_FILE), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(str(staging / _gridpack.MODEL_FILE), providers=["CPUExecutionProvider"])
    expected, got = before.run(None, {"x": x})[0], after.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)  # float32 arithmetic, rounding apart
    exact = x.astype(np.float64) @ a.astype(np.float64) @ b.astype(np.float64)
    assert np.abs(got - exact).max() < 1e-4


def test_nothing_on_a_grid_writes_nothing(tmp_path):
    rng = np.random.default_rng(5)
    weights = {"A": rng.standard_normal((64, 40)), "B": rng.standard_normal((40, 24))}
    matmul_model(tmp_path, {name: w.astype(np.float32) for name, w in weights.items()})
    assert _gridpack.repack(tmp_path, tmp_path / "repacked") == 0
    assert not (tmp_path / "repacked").exists()


def q8_0_weight(k: int, n: int, seed: int = 0):
    """A float32 [K, N] weight as transformers dequantizes a Q8_0 GGUF tensor: blocks of 32 along K, each
    float32(d) * q with d float16 and q in -127..127 (the block's largest |value| at 127)."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.0005, 0.01, size=(n, k // 32)).astype(np.float16).astype(np.float32)
    q = rng.integers(-127, 128, size=(n, k // 32, 32)).astype(np.int8)
    q[..., 0] = 127
    return (d[..., None] * q.astype(np.float32)).reshape(n, k).T.copy(), q.reshape(n, k), d


def test_recovers_the_exact_q8_0_grid_and_refuses_others():
    w, q, d = q8_0_weight(64, 30)
    got_q, got_d = _gridpack.recover_q8_0(w)
    assert np.array_equal(got_q, q) and np.array_equal(got_d, d)
    nudged = w.copy()
    nudged[7, 2] = np.nextafter(nudged[7, 2], np.float32(1))
    assert _gridpack.recover_q8_0(nudged) is None
    assert _gridpack.recover_q8_0(np.random.default_rng(1).standard_normal((64, 8)).astype(np.float32)) is None


def test_output_layer_becomes_a_bounded_shortlist(tmp_path):
    """A tied output layer on a Q8_0 grid (read by the embedding through a Transpose, as the builder exports it):
    the graph gets approximate logits and the hidden state, the exact weights go beside it, the Transpose is folded
    into a stored table, and the runtime's bound holds for the approximate logits against exact float32 ones."""
    from onnx import TensorProto, helper, numpy_helper

    from pipeline.providers.script._runtime import ShortlistHead

    k, vocab = 64, 300
    head, q, d = q8_0_weight(k, vocab, seed=3)
    layer, *_ = q4_1_weight(k, k, seed=4)  # one linear layer on the 4-bit grid, so that repack runs
    nodes = [
        helper.make_node("Transpose", ["W"], ["table"], name="embed_T"),
        helper.make_node("Gather", ["table", "ids"], ["x0"], name="embed"),
        helper.make_node("MatMul", ["x0", "A"], ["x1"], name="layer"),
        helper.make_node("MatMul", ["x1", "W"], ["logits"], name="lm_head"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "s", vocab])],
        [numpy_helper.from_array(head, "W"), numpy_helper.from_array(layer, "A")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(tmp_path / _gridpack.MODEL_FILE), save_as_external_data=True,
                    location=_gridpack.DATA_FILE)
    staging = tmp_path / "repacked"
    assert _gridpack.repack(tmp_path, staging) == 1
    repacked = onnx.load(str(staging / _gridpack.MODEL_FILE))
    assert [n.op_type for n in repacked.graph.node].count("Transpose") == 0
    assert [o.name for o in repacked.graph.output] == ["logits", _gridpack.HIDDEN_OUTPUT]
    assert "W" not in {t.name for t in repacked.graph.initializer}  # folded into the table, stored once
    assert np.array_equal(np.load(staging / _gridpack.HEAD_WEIGHTS), q)

    ids = np.random.default_rng(5).integers(0, vocab, size=(1, 40))
    before = ort.InferenceSession(str(tmp_path / _gridpack.MODEL_FILE), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(str(staging / _gridpack.MODEL_FILE), providers=["CPUExecutionProvider"])
    exact_logits = before.run(None, {"ids": ids})[0][0]
    approx, hidden = after.run(None, {"ids": ids})
    shortlist = ShortlistHead(staging)
    for position in range(ids.shape[1]):
        h = hidden[0, position]
        bounds = shortlist.bound(h)
        every = bounds.at(np.arange(vocab))
        error = np.abs(approx[0, position] - exact_logits[position])
        assert np.all(error <= every) and error.max() > 0  # approximate, and within the bound
        assert every.max() <= bounds.cap
        everything = np.arange(vocab)
        np.testing.assert_allclose(shortlist.rows(everything) @ h, exact_logits[position], rtol=1e-5, atol=1e-5)
