"""The drawn anchor's looks: who sits at the desk. Each is a face, skin, hair, and an outfit, named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Look:
    name: str
    description: str
    skin: str
    lips: str
    hair: str
    iris: str
    hair_style: Literal["side-part", "bob", "bun", "curls", "waves", "crop"]
    face: Literal["soft", "square"]
    outfit: Literal["suit-tie", "suit-open", "blazer-blouse", "blazer-shell"]
    jacket: str
    shirt: str
    tie: str = ""
    accent: str = "#d8342b"  # the desk's light strip
    desk: str = "#2b3442"
    earrings: bool = False
    glasses: bool = False
    beard: bool = False
    makeup: bool = False


LOOKS: dict[str, Look] = {
    look.name: look
    for look in (
        Look(
            name="amara",
            description="deep brown skin, black hair in a sleek bun, teal blazer over a cream blouse",
            skin="#7a4a33", lips="#6e3a34", hair="#1c1614", iris="#3a2416",
            hair_style="bun", face="soft", outfit="blazer-blouse",
            jacket="#1f5e63", shirt="#efe6d8", accent="#e0a436", earrings=True, makeup=True,
        ),
        Look(
            name="daniel",
            description="fair skin, brown side-parted hair, navy suit, white shirt, burgundy tie",
            skin="#eac0a3", lips="#c27c72", hair="#5a3b26", iris="#4f6d8a",
            hair_style="side-part", face="square", outfit="suit-tie",
            jacket="#1f2c4a", shirt="#f4f5f7", tie="#7d1f2e", accent="#d8342b",
        ),
        Look(
            name="mei",
            description="light warm skin, black bob with a fringe, red blazer over a black top",
            skin="#f0caa6", lips="#c4575c", hair="#161314", iris="#2e2018",
            hair_style="bob", face="soft", outfit="blazer-shell",
            jacket="#b3262f", shirt="#1d1d22", accent="#2f7fd8", earrings=True, makeup=True,
        ),
        Look(
            name="rafael",
            description="olive skin, short dark curls and a trimmed beard, charcoal suit, open-collar blue shirt",
            skin="#c18d66", lips="#9c5f50", hair="#241a15", iris="#3b2a1c",
            hair_style="curls", face="square", outfit="suit-open",
            jacket="#34383f", shirt="#b9cfe6", accent="#1fa4a0", beard=True,
        ),
        Look(
            name="sofia",
            description="fair skin with freckles of light, long auburn waves, emerald blouse under a black blazer",
            skin="#f3d2bd", lips="#c0686a", hair="#7a3a1e", iris="#4d6b3c",
            hair_style="waves", face="soft", outfit="blazer-blouse",
            jacket="#1c1d22", shirt="#1d6b4f", accent="#c9a24a", makeup=True,
        ),
        Look(
            name="kwame",
            description="dark skin, close-cropped hair, glasses, grey suit, white shirt, navy tie",
            skin="#5c3624", lips="#4f2b24", hair="#121010", iris="#24170f",
            hair_style="crop", face="square", outfit="suit-tie",
            jacket="#5b6068", shirt="#f2f2f0", tie="#1f3566", accent="#d8342b", glasses=True,
        ),
    )
}  # fmt: skip


def look_names() -> list[str]:
    return list(LOOKS)
