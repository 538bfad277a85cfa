"""Put the ONNX model's weights back on the 4-bit grid they came from, keeping fp32 arithmetic.

The shipped SmolLM2 file is GGUF Q4_1: every block of 32 weights is `d * q + m` with q in 0..15 and d, m float16.
transformers dequantizes that to float32, and the ONNX builder exports those float32 values, so each block still
holds at most 16 distinct values on that grid. Recovered exactly (checked bit for bit), a linear layer becomes

    y = MatMulNBits(x; q, d, zero point 0) + blocksums(x) @ m

(ONNX Runtime's 4-bit MatMul at accuracy level 0, i.e. float32 arithmetic, plus the blocks' offsets) which reads a
quarter of the bytes per token and computes the same sums as the float32 MatMul up to rounding in the last bits.
Decoding is ~1.8x faster than the float32 graph, and the scripts stay word for word transformers'
(benchmarks/script_runtime.py). A matrix whose values are not on such a grid (another quantization, a future file)
is left float32.

The output layer (49152 x 576, a third of the model's bytes; Q8_0 in the GGUF: blocks of 32 int8 values times a
float16 scale) has no fast float32 kernel on its grid, so it becomes a shortlist instead (`write_shortlist_head`):
the graph computes *approximate* logits with ONNX Runtime's 8-bit MatMul (the exact int8 weights; only the
activations are rounded to 8 bits, per block of 32, as llama.cpp does) and also hands out the hidden state it
multiplies; the exact int8 weights, their scales and each block's sum of |weight| go beside it as .npy files, from
which the runtime bounds the error per token and recomputes exact float32 logits for the few tokens that could be
chosen (`_runtime.ShortlistHead`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BLOCK = 32
MODEL_FILE = "model.onnx"
DATA_FILE = "model.onnx.data"
LOGITS = "logits"  # the graph output the builder names, and ONNX Runtime GenAI reads
HIDDEN_OUTPUT = "newsreel_hidden"  # the output layer's input, added as a graph output for the shortlist
HEAD_WEIGHTS = "head_q8.npy"  # int8 [vocab, K]: the output layer's Q8_0 values, one row per token
HEAD_SCALES = "head_scales.npy"  # float32 [vocab, K/32]: each block's scale
HEAD_BLOCK_ABS = "head_block_abs.npy"  # float32 [vocab, K/32]: each block's sum of |weight|, for the error bound


def recover_q4_1(weight: Any) -> tuple[Any, Any, Any] | None:
    """For a float32 weight [K, N] (the ONNX MatMul layout) whose every block of 32 along K is exactly
    float32(float32(d) * q + float32(m)) with d, m float16 and q in 0..15: (q [N, K/32, 32] uint8, d [N, K/32]
    float32, m [N, K/32] float32). None when any block is not, or K is not a multiple of 32.

    Q4_1 stores the block's minimum as m (so q = 0 occurs) and its maximum at q = 15, so m is the smallest value and d
    the float16 nearest (max - m) / 15, or a neighbour of it; every candidate is checked against all 32 values."""
    import numpy as np

    if weight.dtype != np.float32 or weight.ndim != 2 or weight.shape[0] % BLOCK:
        return None
    k, n = weight.shape
    blocks = np.ascontiguousarray(weight.T).reshape(n, k // BLOCK, BLOCK)
    m = blocks.min(axis=-1)
    guess = ((blocks.max(axis=-1) - m) / 15).astype(np.float16)
    d = np.full(m.shape, np.nan, dtype=np.float32)
    q = np.zeros(blocks.shape, dtype=np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):
        for candidate in (guess, np.nextafter(guess, np.float16(np.inf)), np.nextafter(guess, np.float16(-np.inf))):
            scale = candidate.astype(np.float32)
            safe = np.where(scale > 0, scale, np.float32(1))
            levels = np.clip(np.rint((blocks - m[..., None]) / safe[..., None]), 0, 15)
            exact = np.all(scale[..., None] * levels.astype(np.float32) + m[..., None] == blocks, axis=-1)
            take = exact & np.isnan(d)
            d[take] = scale[take]
            q[take] = levels[take]
    if np.isnan(d).any():
        return None
    return q, d, m


def recover_q8_0(weight: Any) -> tuple[Any, Any] | None:
    """For a float32 weight [K, N] whose every block of 32 along K is exactly float32(d) * q with d float16 and q in
    -127..127 (GGUF Q8_0, as transformers dequantizes it): (q [N, K] int8, d [N, K/32] float32). None otherwise.
    Q8_0 sets d = max|w| / 127, so the block's largest value sits at |q| = 127; d is that float16 or a neighbour."""
    import numpy as np

    if weight.dtype != np.float32 or weight.ndim != 2 or weight.shape[0] % BLOCK:
        return None
    k, n = weight.shape
    blocks = np.ascontiguousarray(weight.T).reshape(n, k // BLOCK, BLOCK)
    guess = (np.abs(blocks).max(axis=-1) / 127).astype(np.float16)
    d = np.full(guess.shape, np.nan, dtype=np.float32)
    q = np.zeros(blocks.shape, dtype=np.int8)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for candidate in (guess, np.nextafter(guess, np.float16(np.inf)), np.nextafter(guess, np.float16(-np.inf))):
            scale = candidate.astype(np.float32)
            safe = np.where(scale > 0, scale, np.float32(1))
            levels = np.clip(np.rint(blocks / safe[..., None]), -127, 127)
            exact = np.all(scale[..., None] * levels.astype(np.float32) == blocks, axis=-1)
            take = exact & np.isnan(d)
            d[take] = scale[take]
            q[take] = levels[take]
    if np.isnan(d).any():
        return None
    return q.reshape(n, k), d


def write_shortlist_head(model: Any, staging: Path) -> bool:
    """Turn the float32 MatMul that makes the graph's `logits` output, when its weight is on a Q8_0 grid, into an
    8-bit MatMulNBits at accuracy level 4 (int8 activations: approximate logits, fast) plus a second graph output
    with its input (the hidden state), and write the exact weights beside the model (HEAD_* files). True when done;
    the graph is left as it was otherwise. The float32 weight stays where other nodes use it (the embedding)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    node = next((n for n in graph.node if n.op_type == "MatMul" and list(n.output) == [LOGITS]), None)
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    if node is None or node.input[1] not in initializers:
        return False
    found = recover_q8_0(numpy_helper.to_array(initializers[node.input[1]]))
    if found is None:
        return False
    q, d = found
    n, k = q.shape
    blocks = k // BLOCK
    staging.mkdir(exist_ok=True)
    np.save(staging / HEAD_WEIGHTS, q)
    np.save(staging / HEAD_SCALES, d)
    weight_abs = np.abs(q.reshape(n, blocks, BLOCK).astype(np.float32)).sum(axis=-1) * d
    np.save(staging / HEAD_BLOCK_ABS, weight_abs.astype(np.float32))
    name = node.input[1]
    graph.initializer.extend([
        numpy_helper.from_array((q.reshape(n, blocks, BLOCK).astype(np.int16) + 128).astype(np.uint8), f"{name}.q8"),
        numpy_helper.from_array(d.reshape(-1), f"{name}.q8_scales"),
        numpy_helper.from_array(np.full(n * blocks, 128, dtype=np.uint8), f"{name}.q8_zero_points"),
    ])
    x = node.input[0]
    position = list(graph.node).index(node)
    graph.node.remove(node)
    graph.node.insert(position, helper.make_node(
        "MatMulNBits", [x, f"{name}.q8", f"{name}.q8_scales", f"{name}.q8_zero_points"], [LOGITS],
        name=f"{node.name}.Q8", domain="com.microsoft", K=k, N=n, bits=8, block_size=BLOCK,
        accuracy_level=4,  # 8-bit activations: the fast kernel; the runtime bounds what that rounding costs
    ))
    graph.node.insert(position, helper.make_node("Identity", [x], [HIDDEN_OUTPUT], name="newsreel.Hidden"))
    shape = ["batch_size", "sequence_length", k]
    graph.output.append(helper.make_tensor_value_info(HIDDEN_OUTPUT, TensorProto.FLOAT, shape))
    if not any(name in other.input for other in graph.node):  # an untied model: nothing else reads the float32 copy
        graph.initializer.remove(initializers[name])
    return True


def fold_transposed_initializers(graph: Any) -> int:
    """Replace each Transpose of a stored weight with the transposed weight itself, so that ONNX Runtime does not
    fold it on every load (the builder's embedding reads the tied output layer through one: 113 MB, ~0.2 s of each
    load). A weight nothing else reads is dropped. Returns how many were folded."""
    import numpy as np
    from onnx import numpy_helper

    initializers = {tensor.name: tensor for tensor in graph.initializer}
    folded = 0
    for node in list(graph.node):
        if node.op_type != "Transpose" or len(node.input) != 1 or node.input[0] not in initializers:
            continue
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        array = numpy_helper.to_array(initializers[node.input[0]])
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array.transpose(perm)), node.output[0]))
        graph.node.remove(node)
        if not any(node.input[0] in other.input for other in graph.node):
            graph.initializer.remove(initializers.pop(node.input[0]))
        folded += 1
    return folded


def repack(folder: Path, staging: Path) -> int:
    """Write into `staging` (a new folder) a model.onnx (+ .data) like `folder`'s, but with the float32 MatMuls on a
    Q4_1 grid as 4-bit MatMuls with float32 arithmetic. Returns how many were rewritten (0: nothing written)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(folder / MODEL_FILE))
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    added: list[Any] = []
    nodes: list[Any] = []
    block_sums: dict[str, str] = {}  # input -> its block sums (gate and up share theirs)
    shared: set[str] = set()
    repacked = 0

    def constant(name: str, value: Any) -> str:
        if name not in shared:
            added.append(numpy_helper.from_array(value, name))
            shared.add(name)
        return name

    for node in graph.node:
        weight_name = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
        found = recover_q4_1(numpy_helper.to_array(initializers[weight_name])) if weight_name in initializers else None
        if found is None:
            nodes.append(node)
            continue
        q, d, m = found
        n, blocks, _ = q.shape
        k = blocks * BLOCK
        x, y = node.input[0], node.output[0]
        added += [
            numpy_helper.from_array((q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8), f"{weight_name}.q4"),
            numpy_helper.from_array(d.reshape(-1), f"{weight_name}.scales"),
            numpy_helper.from_array(np.zeros(n * ((blocks + 1) // 2), dtype=np.uint8), f"{weight_name}.zero_points"),
            numpy_helper.from_array(np.ascontiguousarray(m.T), f"{weight_name}.mins"),
        ]
        if x not in block_sums:
            shape = constant(f"newsreel.blocks_of_{k}", np.array([0, 0, blocks, BLOCK], dtype=np.int64))
            axes = constant("newsreel.last_axis", np.array([-1], dtype=np.int64))
            block_sums[x] = f"{x}.block_sums"
            nodes += [
                helper.make_node("Reshape", [x, shape], [f"{x}.blocks"], name=f"{x}.BlockReshape"),
                helper.make_node("ReduceSum", [f"{x}.blocks", axes], [block_sums[x]], name=f"{x}.BlockSum", keepdims=0),
            ]
        nodes += [
            helper.make_node(
                "MatMulNBits",
                [x, f"{weight_name}.q4", f"{weight_name}.scales", f"{weight_name}.zero_points"],
                [f"{y}.grid"],
                name=f"{node.name}.Q4",
                domain="com.microsoft",
                K=k,
                N=n,
                bits=4,
                block_size=BLOCK,
                accuracy_level=0,  # float32 arithmetic: no 8-bit activations
            ),
            helper.make_node(
                "MatMul", [block_sums[x], f"{weight_name}.mins"], [f"{y}.offsets"], name=f"{node.name}.Mins"
            ),
            helper.make_node("Add", [f"{y}.grid", f"{y}.offsets"], [y], name=f"{node.name}.AddMins"),
        ]
        uses[weight_name] -= 1
        repacked += 1
    if not repacked:
        return 0
    keep = [t for t in graph.initializer if uses.get(t.name, 0) > 0]
    del graph.initializer[:]
    graph.initializer.extend([*keep, *added])
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    staging.mkdir(exist_ok=True)
    if write_shortlist_head(model, staging):
        log.info("the output layer of %s runs as a shortlist on its 8-bit grid", folder.name)
        fold_transposed_initializers(graph)  # the embedding's table, now that nothing else reads the float32 layer
    onnx.save_model(
        model, str(staging / MODEL_FILE), save_as_external_data=True, all_tensors_to_one_file=True, location=DATA_FILE
    )
    log.info("put %d weight matrices of %s back on their 4-bit grid", repacked, folder.name)
    return repacked
