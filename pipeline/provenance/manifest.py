"""What a video's manifest says: one assertion per stage (what ran, with what, the hashes of what it made), the
visible label and the watermark state, the AI-generated elements it shows (a presenter), and the C2PA manifest
definition that wraps them.
"""

from __future__ import annotations

from typing import Any

from .. import __version__

GENERATOR = "newsreel"
NS = "org.newsreel"  # prefix of our own assertion labels
SIDECAR = "provenance.json"
SIDECAR_FORMAT = "newsreel-provenance/1"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
UNREPORTED_LABEL = {"visible": None, "text": None, "note": "the compose provider does not report a visible label"}


def _stage_files(stage: str, artifact: Any) -> tuple[str, ...]:
    """The run-folder files a stage exported, as its contract's `exports` names them; none without the artifact
    (a guess could claim a file the stage never made)."""
    from ..stages import STAGES

    if artifact is None or stage not in STAGES:
        return ()
    return tuple(STAGES[stage].exports(artifact))


def _facts(rec: dict[str, Any]) -> dict[str, Any]:
    """What a stage's provider said about itself (`Provider.provenance()`, recorded by the runner in run.json)."""
    facts = rec.get("provenance")
    return facts if isinstance(facts, dict) else {}


def label_state(record: dict[str, Any]) -> dict[str, Any]:
    """Whether the visible on-screen label is on, as the compose provider says through its provenance facts
    (`{"visible_label": {"visible": bool, "text": str | None}}`): visible with text is on, not visible is off;
    a provider that says nothing (or half of it) leaves it unknown, which the manifest states as such."""
    said = _facts(record.get("stages", {}).get("compose") or {}).get("visible_label")
    if not isinstance(said, dict) or not isinstance(said.get("visible"), bool):
        return dict(UNREPORTED_LABEL)
    if not said["visible"]:
        return {"visible": False, "text": None}
    text = said.get("text")
    if isinstance(text, str) and text.strip():
        return {"visible": True, "text": text}
    return {**UNREPORTED_LABEL, "note": "the compose provider reports a visible label but not its text"}


def watermark_state(record: dict[str, Any]) -> dict[str, Any]:
    """Whether the compose stage marked the frames, from that run's notes["watermark"]: the method name when it did,
    false when it was told not to."""
    compose = record.get("stages", {}).get("compose") or {}
    note = (compose.get("notes") or {}).get("watermark")
    if note:
        return {"embedded": True, "method": note if isinstance(note, str) else str(note), "payload": "newsreel"}
    if note is False:
        return {"embedded": False, "note": "turned off"}
    return {"embedded": False, "note": "the compose stage does not report marking the frames"}


def ai_elements(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The AI-generated elements the video shows beyond the machine-made script, picture, voice and captions: the
    output of a stage that the compose stage's notes say it drew (`notes[stage]["drawn"]`, e.g. a presenter), with
    the look it drew, described by that stage's provider through its provenance facts (`{"ai_element": {"element":
    str, "description": str}}`); listed even when the provider says nothing. Each with `text`, the manifest's
    words: "AI-generated presenter (a news anchor drawn by code, look mei)"."""
    stages = record.get("stages", {})
    notes = (stages.get("compose") or {}).get("notes") or {}
    out = []
    for stage, rec in stages.items():
        drew = notes.get(stage)
        if stage == "compose" or not isinstance(drew, dict) or drew.get("drawn") is not True:
            continue
        said = _facts(rec).get("ai_element")
        said = said if isinstance(said, dict) else {}
        element = str(said.get("element") or stage)
        description = str(said["description"]) if said.get("description") else None
        look = str(drew["look"]) if drew.get("look") else None
        words = [w for w in (description, f"look {look}" if look else None) if w]
        text = f"AI-generated {element}" + (f" ({', '.join(words)})" if words else "")
        out.append({"stage": stage, "element": element, "description": description, "look": look, "text": text})
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
        # Then what the provider says about itself (its prompt templates, the label it draws, ...); what newsreel
        # measured or recorded itself above is never overwritten by a provider's word.
        for name, value in _facts(rec).items():
            data.setdefault(name, value)
        out.append({"label": f"{NS}.{stage}", "data": data})
    return out


def source_state(record: dict[str, Any]) -> dict[str, Any]:
    """The `org.newsreel.source` assertion: the article the script was written from (where, when, its metadata and
    text sha256, never the text) and how well the script keeps to it (the script stage's `grounding` note); or,
    for a video made from a headline alone, that it is unsourced and which specific details are invented."""
    script = record.get("stages", {}).get("script") or {}
    grounding = (script.get("notes") or {}).get("grounding")
    source = record.get("source")
    grounding = grounding if isinstance(grounding, dict) else None
    if isinstance(source, dict):
        data: dict[str, Any] = {"sourced": True, **source}
    elif grounding is not None and grounding.get("verbatim"):
        data = {"sourced": False, "note": "the narration is the user's own words; there was no source article to "
                                          "check them against"}
    else:
        data = {"sourced": False, "note": "written from the headline alone: the names, numbers and dates in it that "
                                          "the headline does not give are invented"}
        if grounding is not None:
            data["invented"] = list(grounding.get("ungrounded") or [])
    if grounding is not None:
        data["grounding"] = grounding
    return data


def build_manifest(record: dict[str, Any], artifacts: dict[str, Any], hashes: dict[str, str]) -> dict[str, Any]:
    """The C2PA manifest definition (c2pa-python's JSON form) for one run."""
    agent = {"name": GENERATOR, "version": __version__}
    label = label_state(record)
    shown = f"the visible label '{label['text']}'" if label.get("visible") else "no visible AI label"
    providers = ", ".join(f"{s} {r.get('provider')}" for s, r in record.get("stages", {}).items())
    source = record.get("source")
    made_from = "one headline"
    if isinstance(source, dict):
        named = source.get("title") or source.get("url") or source.get("file") or "an article"
        where = source.get("site") or source.get("url") or source.get("file")
        made_from = f"the article '{named}'" + (f" ({where})" if where and where != named else "")
    elements = ai_elements(record)
    shows = "".join(f" It shows an {e['text']}." for e in elements)
    actions = [
        {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED,
            "softwareAgent": agent,
            "description": f"Generated by newsreel from {made_from}: the script, background picture, voice and "
                           f"captions are machine-made ({providers}).{shows} Not real news footage.",
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
        {"label": f"{NS}.source", "data": source_state(record)},
        {"label": f"{NS}.label", "data": label},
        {"label": f"{NS}.ai_elements", "data": {"elements": elements}},
        {"label": f"{NS}.watermark", "data": watermark_state(record)},
    ]
    return {
        "claim_generator_info": [agent],
        "title": record.get("headline") or "newsreel video",
        "format": "video/mp4",
        "assertions": assertions,
    }
