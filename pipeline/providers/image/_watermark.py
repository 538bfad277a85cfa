"""Invisible watermark: the `dwtDctSvd` method of the invisible-watermark package (`imwatermark`), in numpy.

Why this method: SD's own scripts use `dwtDct`, which measured here fails on smooth images even before compression and
does not survive H.264 above about CRF 20; `dwtDctSvd` decodes after CRF 23 (not after a zoom).

Why not call the package: its encoder walks every 4x4 block in a Python loop (0.7 s for one 1600x900 image here)
and importing it imports torch (about 4 s). This module does the same arithmetic on all blocks at once:

- take the U channel of BT.601 YUV (the channel the package marks: scales [0, 36, 0]),
- one-level Haar DWT -> the approximation band cA (each value is the sum of a 2x2 pixel block / 2),
- cut cA into 4x4 blocks in row-major order; block k carries payload bit k mod len(bits),
- the package takes the DCT of the block and moves its largest singular value s0 to the middle of the lower
  (bit 0) or upper (bit 1) half of its bin of width 36. The 2-D DCT is orthogonal, so it does not change singular
  values: moving s0 of the block itself is the same operation.
- reading: s0 mod 36 > 18 means 1; each bit is the majority over all blocks that carry it.

The package's `WatermarkDecoder('bytes', 64).decode(bgr, 'dwtDctSvd')` reads what `embed_watermark` writes and
`decode_watermark` reads what the package writes (tests/providers/image/test_diffusers.py checks both ways).
Only numpy is imported, and only when a function is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

PAYLOAD = b"newsreel"  # 64 bits, repeated over the whole image
SCALE = 36.0  # the package's default strength for the U channel
BLOCK = 4
FOUND_AT = 0.9  # fraction of payload bits that must match: 58 of 64 (chance of a random image: about 1e-11)
MIN_REPEATS = 4  # embed only when the payload fits at least this many times (an image of about 128x128 or more)


def _bits(payload: bytes):
    import numpy as np

    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8)).astype(bool)


def _top_singular(blocks):
    """Largest singular value of each 4x4 block with its singular vectors (s0, u0 [n, 4, 1], v0 [n, 4, 1]).

    Power iteration on B^T B, all blocks at once: faster than a batched SVD and exact to about 1e-12 here, because
    U is offset by 128, so every block is close to a constant matrix and s0 dominates (s1/s0 < 0.3 on photos;
    a 2-pixel saturated checkerboard, the worst case found, reaches 0.87 and still converges within 60 steps).
    """
    import numpy as np

    gram = blocks.transpose(0, 2, 1) @ blocks
    v = np.full((len(blocks), BLOCK, 1), 0.5)
    for _ in range(60):
        before = v
        v = gram @ v
        v /= np.sqrt((v * v).sum(axis=1, keepdims=True))
        if np.abs(v - before).max() < 1e-12:
            break
    bv = blocks @ v
    s0 = np.sqrt((bv * bv).sum(axis=1))[:, 0]
    return s0, bv / np.maximum(s0, 1e-12)[:, None, None], v


def _blocks(rgb, n_bits: int):
    """cA of the U channel's Haar DWT, cut into 4x4 blocks: (blocks [n, 4, 4], bit index of each block, grid shape).

    U is cv2.COLOR_BGR2YUV's (BT.601): 0.492 (B - Y) + 128 with Y = 0.299 R + 0.587 G + 0.114 B. Both U and the Haar
    approximation (a 2x2 pixel sum / 2) are linear, so cA is computed from 2x2 sums of RGB: a quarter of the work.
    """
    import numpy as np

    h, w = (rgb.shape[0] // 4) * 4, (rgb.shape[1] // 4) * 4  # the package's crop to a multiple of 4
    sums = rgb[0:h:2, 0:w:2].astype(np.float32)
    sums += rgb[1:h:2, 0:w:2]
    sums += rgb[0:h:2, 1:w:2]
    sums += rgb[1:h:2, 1:w:2]
    weights = (0.492 / 2) * np.array([-0.299, -0.587, 1.0 - 0.114], dtype=np.float32)
    ca = (sums @ weights).astype(np.float64) + 256.0  # 2x2 sum of the +128 offset, halved
    rows, cols = ca.shape[0] // BLOCK, ca.shape[1] // BLOCK
    blocks = (
        ca[: rows * BLOCK, : cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK, BLOCK)
    )
    return blocks, np.arange(rows * cols) % n_bits, (rows, cols)


def capacity(width: int, height: int, payload: bytes = PAYLOAD) -> float:
    """How many times the payload fits in an image of this size."""
    return ((height // 8) * (width // 8)) / (len(payload) * 8)


def embed_watermark(image: Image.Image, payload: bytes = PAYLOAD) -> Image.Image:
    """Return a copy of an RGB image with `payload` embedded; raises ValueError when the image is too small."""
    import numpy as np
    from PIL import Image

    if capacity(*image.size, payload) < MIN_REPEATS:
        raise ValueError(f"a {image.width}x{image.height} image is too small to carry the watermark")
    rgb = np.asarray(image.convert("RGB"))
    bits = _bits(payload)
    blocks, which, (rows, cols) = _blocks(rgb, len(bits))
    s0, u0, v0 = _top_singular(blocks)
    target = (s0 // SCALE + 0.25 + 0.5 * bits[which]) * SCALE
    # Change only the top singular value: block + (s0' - s0) * u0 v0^T.
    delta_ca = (target - s0)[:, None, None] * (u0 @ v0.transpose(0, 2, 1))
    delta_ca = delta_ca.reshape(rows, cols, BLOCK, BLOCK).swapaxes(1, 2).reshape(rows * BLOCK, cols * BLOCK)
    # Inverse Haar with the detail bands unchanged: each of the 2x2 pixels under a cA value moves by delta / 2.
    # Back to RGB with Y and V unchanged: B += 2.032 dU, G -= 0.395 dU, R stays.
    delta_u = np.repeat(np.repeat((delta_ca / 2.0).astype(np.float32), 2, axis=0), 2, axis=1)
    h, w = delta_u.shape
    out = rgb.copy()
    for channel, gain in ((2, 2.032), (1, -0.395)):
        moved = out[:h, :w, channel].astype(np.float32)
        moved += gain * delta_u
        out[:h, :w, channel] = np.clip(np.rint(moved, out=moved), 0, 255, out=moved)
    return Image.fromarray(out)


def read_bits(image: Image.Image, n_bits: int = len(PAYLOAD) * 8):
    """The majority bit for each payload position, and the share of blocks that agreed with it."""
    import numpy as np

    blocks, which, _ = _blocks(np.asarray(image.convert("RGB")), n_bits)
    if len(blocks) < n_bits:
        raise ValueError(f"a {image.width}x{image.height} image is too small to carry a watermark")
    s0, _, _ = _top_singular(blocks)
    votes = (s0 % SCALE) > SCALE * 0.5
    ones = np.bincount(which, weights=votes, minlength=n_bits) / np.bincount(which, minlength=n_bits)
    return ones > 0.5, np.maximum(ones, 1.0 - ones)


def decode_watermark(path: str | Path, payload: bytes = PAYLOAD) -> tuple[bool, float]:
    """Look for `payload` in an image file: (found, score), score = the share of payload bits read correctly.

    An unmarked image scores about 0.5; a marked PNG scores 1.0; found means score >= 0.9.
    """
    from PIL import Image

    with Image.open(path) as image:
        try:
            bits, _ = read_bits(image, len(payload) * 8)
        except ValueError:
            return False, 0.0
    score = float((bits == _bits(payload)).mean())
    return score >= FOUND_AT, score


def mark_if_wanted(image: Image.Image, wanted: bool, notes: dict[str, str]) -> Image.Image:
    """The image providers' last step: embed the mark when asked and when the picture is big enough for it, and say
    which in `notes["watermark"]`."""
    width, height = image.size
    if not wanted:
        notes["watermark"] = "off"
        return image
    if capacity(width, height) < MIN_REPEATS:
        notes["watermark"] = f"skipped: {width}x{height} is too small"
        return image
    notes["watermark"] = f"{PAYLOAD.decode()} (dwtDctSvd)"
    return embed_watermark(image)
