"""Contact sheet of the drawn anchor: every look at rest, its nine mouth shapes and its blink, one row per look.

    .venv/bin/python docs/screenshots/presenter_sheet.py [--size 960] [--out docs/screenshots/presenter-looks.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipeline.assets import FONT_BOLD, FONT_REGULAR  # noqa: E402
from pipeline.providers.presenter._looks import LOOKS  # noqa: E402
from pipeline.providers.presenter._render import composite, render  # noqa: E402
from pipeline.stages.presenter import MOUTH_SHAPES  # noqa: E402

SAYS = {"A": "M B P", "B": "K S T EE", "C": "EH AE", "D": "AA", "E": "AO ER", "F": "UW OW W", "G": "F V", "H": "L",
        "X": "rest"}  # fmt: skip
BACKDROP = ((38, 52, 82), (92, 112, 150))  # a studio blue, darker at the top


def backdrop(w: int, h: int) -> np.ndarray:
    t = np.linspace(0, 1, h)[:, None, None]
    top, bottom = (np.array(c, np.float32) for c in BACKDROP)
    return np.broadcast_to(top + (bottom - top) * t, (h, w, 3)).astype(np.float32)


def over(rgba: np.ndarray, bg: np.ndarray) -> Image.Image:
    a = rgba[..., 3:] / 255.0
    return Image.fromarray((rgba[..., :3] * a + bg * (1 - a)).astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=960)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "presenter-looks.png")
    args = ap.parse_args()
    size = args.size
    full = size // 2  # the whole presenter, at half size
    tile = full // 2  # close-ups: nine mouths and a blink, 5 x 2 beside it
    label = ImageFont.truetype(str(FONT_BOLD), max(10, tile // 7))
    small = ImageFont.truetype(str(FONT_REGULAR), max(9, tile // 11))
    sheet = Image.new("RGB", (full + 5 * tile + 20, len(LOOKS) * (full + 10) + 10), (24, 26, 30))
    draw = ImageDraw.Draw(sheet)
    studio = backdrop(size, size)
    for row, (name, look) in enumerate(LOOKS.items()):
        drawn = render(look, size)
        y0 = 10 + row * (full + 10)
        sheet.paste(over(composite(drawn), studio).resize((full, full), Image.LANCZOS), (0, y0))
        draw.text((10, y0 + 8), name, font=label, fill=(255, 255, 255))
        x, y, w, h = drawn.mouth_box
        mouth = (x + w // 2, y + h // 2 + h // 10, int(w * 0.95))  # centre x, y and half the side of the close-up
        eyes = (size // 2, int(size * 0.33), int(size * 0.09))
        shots = [(s, composite(drawn, s), mouth) for s in MOUTH_SHAPES[-1] + MOUTH_SHAPES[:-1]]
        shots.append(("blink", composite(drawn, "X", "c"), eyes))
        for k, (what, rgba, (cx, cy, half)) in enumerate(shots):
            crop = rgba[cy - half : cy + half, cx - half : cx + half]
            behind = studio[cy - half : cy + half, cx - half : cx + half]
            picture = over(crop, behind).resize((tile, tile), Image.LANCZOS)
            px, py = full + 10 + (k % 5) * tile, y0 + (k // 5) * tile
            sheet.paste(picture, (px, py))
            caption = what if what == "blink" else f"{what}  {SAYS[what]}"
            draw.text((px + 5, py + 4), caption, font=small, fill=(255, 255, 255), stroke_width=1,
                      stroke_fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(args.out, sheet.size)


if __name__ == "__main__":
    main()
