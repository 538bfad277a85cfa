"""What a video's manifest says: one assertion per stage (what ran, with what, the hashes of what it made), the
visible label and the watermark state, and the C2PA manifest definition that wraps them.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..hashing import sha256_file

GENERATOR = "newsreel"
NS = "org.newsreel"  # prefix of our own assertion labels
SIDECAR = "provenance.json"
SIDECAR_FORMAT = "newsreel-provenance/1"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
SCRIPT_TEMPLATES = ("script_prompt.j2", "script_continue.j2")  # the prompts the built-in script providers render
BUILTIN_SCRIPT_PROVIDERS = ("local", "openai")


def _stage_files(stage: str, artifact: Any) -> tuple[str, ...]:
    """The run-folder files a stage exported (its contract's `exports`), or the usual names without the artifact."""
    if artifact is not None:
        from ..stages import STAGES

        if stage in STAGES:
            try:
                return tuple(STAGES[stage].exports(artifact))
            except Exception:  # noqa: BLE001, S110 - an artifact that cannot say: fall back to the usual names
                pass
    return {
        "script": ("script.json",),
        "image": ("image.png",),
        "voice": ("narration.wav",),
        "captions": ("captions.srt", "captions.vtt", "captions.ass"),
        "compose": ("video.mp4", "poster.jpg"),
    }.get(stage, ())


def label_state(record: dict[str, Any]) -> dict[str, Any]:
    """Whether the visible on-screen label is on, from the compose stage's parameters: a non-empty `label` is on;
    `label` set to null, "" or false (or `label_visible: false`) is off; no `label` parameter is unknown."""
    params = (record.get("stages", {}).get("compose") or {}).get("params") or {}
    if params.get("label_visible") is False:
        return {"visible": False, "text": None}
    if "label" not in params:
        return {"visible": None, "text": None, "note": "the compose provider does not report a visible label"}
    text = params.get("label")
    if isinstance(text, str) and text.strip():
        return {"visible": True, "text": text}
    return {"visible": False, "text": None}


def watermark_state(record: dict[str, Any]) -> dict[str, Any]:
    """Whether the compose stage marked the frames: its notes["watermark"] (the method name), or a `watermark`
    parameter."""
    compose = record.get("stages", {}).get("compose") or {}
    note = (compose.get("notes") or {}).get("watermark")
    param = (compose.get("params") or {}).get("watermark")
    if note:
        return {"embedded": True, "method": note if isinstance(note, str) else str(note), "payload": "newsreel"}
    if param is False:
        return {"embedded": False, "note": "turned off"}
    return {"embedded": False, "note": "the compose stage does not report marking the frames"}


def _templates_digest() -> dict[str, str]:
    from ..assets import TEMPLATES_DIR

    out = {}
    for name in SCRIPT_TEMPLATES:
        path = TEMPLATES_DIR / name
        if path.is_file():
            out[name] = sha256_file(path)
    return out


def stage_assertions(record: dict[str, Any], artifacts: dict[str, Any], hashes: dict[str, str]) -> list[dict]:
    """One `org.newsreel.<stage>` assertion per stage: what ran, with what, and the hashes of what it made."""
    out = []
    for stage, rec in record.get("stages", {}).items():
        art = artifacts.get(stage)
        data: dict[str, Any] = {
            "provider": rec.get("provider"),
            "provider_version": rec.get("version"),
            "params": rec.get("params", {}),
            "model": rec.get("identity") or None,
            "cache_key": rec.get("key"),
            "output_digest": rec.get("digest"),
            "files": {n: hashes[n] for n in _stage_files(stage, art) if n in hashes},
        }
        if stage == "script":
            data["headline"] = record.get("headline")
            if art is not None:
                data["written_by"] = getattr(art, "model", "") or None
                data["title"] = getattr(art, "title", None)
            if rec.get("provider") in BUILTIN_SCRIPT_PROVIDERS:
                data["prompt_templates_sha256"] = _templates_digest()
        elif stage == "image" and art is not None:
            data["images"] = [
                {"prompt": im.prompt, "seed": im.seed, "width": im.width, "height": im.height,
                 **({"notes": dict(im.notes)} if im.notes else {})}
                for im in getattr(art, "images", [])
            ]
            script = artifacts.get("script")
            if script is not None and getattr(script, "negative_prompt", ""):
                data["negative_prompt"] = script.negative_prompt
        elif stage == "voice":
            data["engine"] = rec.get("provider")
            data["voice"] = (getattr(art, "voice", "") or None) if art is not None else None
            if art is not None:
                data["seconds"] = round(float(getattr(art, "duration", 0.0)), 3)
        elif stage == "compose":
            data["visible_label"] = label_state(record)
            if art is not None:
                data["frame"] = {"width": art.width, "height": art.height, "fps": art.fps,
                                 "seconds": round(float(art.duration), 3)}
        out.append({"label": f"{NS}.{stage}", "data": data})
    return out


def build_manifest(record: dict[str, Any], artifacts: dict[str, Any], hashes: dict[str, str]) -> dict[str, Any]:
    """The C2PA manifest definition (c2pa-python's JSON form) for one run."""
    agent = {"name": GENERATOR, "version": __version__}
    label = label_state(record)
    shown = f"the visible label '{label['text']}'" if label.get("visible") else "no visible AI label"
    providers = ", ".join(f"{s} {r.get('provider')}" for s, r in record.get("stages", {}).items())
    actions = [
        {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED,
            "softwareAgent": agent,
            "description": "Generated by newsreel from one headline: the script, background picture, voice and "
                           f"captions are machine-made ({providers}). Not real news footage.",
        },
        {
            "action": "c2pa.edited",
            "softwareAgent": agent,
            "description": f"Composed: motion over the background, captions, news graphics, {shown}, H.264/AAC encode.",
        },
    ]
    assertions = [
        {"label": "c2pa.actions.v2", "data": {"actions": actions}},
        *stage_assertions(record, artifacts, hashes),
        {"label": f"{NS}.label", "data": label},
        {"label": f"{NS}.watermark", "data": watermark_state(record)},
    ]
    return {
        "claim_generator_info": [agent],
        "title": record.get("headline") or "newsreel video",
        "format": "video/mp4",
        "assertions": assertions,
    }
