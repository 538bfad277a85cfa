"""`verify(path)`: a file's manifest, the sidecar next to it and the invisible watermark, judged into a `Verdict`
with a status, an exit code and a one-line summary; `format_verdict` renders it for people. Never raises for a bad
file. c2pa and numpy are imported only inside the functions that use them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import NewsreelError
from ..hashing import sha256_file
from .identity import local_ca
from .manifest import GENERATOR, NS, SIDECAR
from .reading import CONTENT_CHANGED, NOT_TRUSTED, ManifestReport, is_bmff, read_manifest

Status = Literal[
    "verified", "tampered", "invalid", "no-provenance", "other-tool", "truncated", "not-a-video", "missing"
]
EXIT_CODES: dict[str, int] = {"verified": 0, "tampered": 1, "invalid": 1, "no-provenance": 1, "other-tool": 1,
                              "truncated": 1, "not-a-video": 2, "missing": 2}


class ManifestCheck(BaseModel):
    present: bool
    readable: bool = True
    generator: str = ""  # "newsreel/0.1.0", or the other tool's name
    from_newsreel: bool = False
    signature_valid: bool = False
    content_matches: bool = False
    trusted: bool = False
    signed_by: str = ""
    issuer: str = ""
    algorithm: str = ""
    ai_generated: bool = False
    digital_source_type: str = ""
    actions: list[str] = []
    assertions: list[str] = []
    stages: dict[str, dict[str, Any]] = {}
    visible_label: dict[str, Any] | None = None
    ai_elements: list[str] = []  # what the video shows that a machine made, beyond the stages (a presenter)
    failures: list[str] = []
    error: str = ""
    label: str = ""


class SidecarCheck(BaseModel):
    path: str
    readable: bool = True
    video_matches: bool | None = None  # the file's sha256 equals the sidecar's
    manifest_matches: bool | None = None  # the embedded manifest is the one the sidecar names
    files: dict[str, str] = {}  # other run-folder file -> ok | changed | missing
    problem: str = ""


class Verdict(BaseModel):
    path: str
    status: Status
    exit_code: int
    summary: str
    details: list[str] = []
    manifest: ManifestCheck | None = None
    sidecar: SidecarCheck | None = None
    watermark: dict[str, Any] | None = None


def verify(
    path: Path | str,
    *,
    watermark: bool = True,
    trust_anchors: list[Path] | None = None,
    max_frames: int = 12,
) -> Verdict:
    """Check a video's provenance: its C2PA manifest, the provenance.json beside it, and the invisible watermark.

    Never raises for a bad file: every kind of bad input is a Verdict of its own (status and exit code: verified 0;
    tampered, invalid, no-provenance, other-tool, truncated 1; not-a-video, missing 2). A run folder may be given
    for its video.mp4. `trust_anchors`: PEM files of CA certificates to trust besides this machine's newsreel CA.
    """
    path = Path(path)
    if path.is_dir() and (path / "video.mp4").is_file():
        path = path / "video.mp4"
    shown = str(path)
    if not path.exists():
        return _verdict(shown, "missing", f"No such file: {shown}.")
    if not path.is_file():
        return _verdict(shown, "not-a-video", f"Not a video: {shown} is a folder without a video.mp4.")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
        size = path.stat().st_size
    except OSError as exc:
        return _verdict(shown, "missing", f"Cannot read {shown}: {exc.strerror}.")
    details: list[str] = []
    bmff = is_bmff(head)
    short = _truncated_by(path, size) if bmff else 0

    anchors, anchor_problems = _anchors(trust_anchors)
    details += anchor_problems
    report = read_manifest(path, anchors)
    if not bmff and report.error:
        report = ManifestReport()  # not an asset the C2PA reader knows: no manifest, and we say what it is below
    if not report.present and not short:
        kind = _what_is(path)
        if kind != "video":
            return _verdict(shown, "not-a-video", f"Not a video: {shown} is {kind}.")
    mcheck = _manifest_check(report) if report.present else None
    sidecar = _sidecar_check(path, report)
    wm = None
    if watermark:
        from ..video_watermark import detect_video

        wm = detect_video(path, max_frames=max_frames).to_json()

    status, summary = _judge(report, mcheck, sidecar, wm, short)
    details += _describe(mcheck, sidecar, wm)
    return Verdict(path=shown, status=status, exit_code=EXIT_CODES[status], summary=summary, details=details,
                   manifest=mcheck, sidecar=sidecar, watermark=wm)


def _verdict(path: str, status: Status, summary: str) -> Verdict:
    return Verdict(path=path, status=status, exit_code=EXIT_CODES[status], summary=summary)


def _anchors(extra: list[Path] | None) -> tuple[list[str], list[str]]:
    anchors, problems = [], []
    ca = local_ca()
    if ca is not None:
        try:
            anchors.append(ca.read_text())
        except OSError:
            pass
    for p in extra or []:
        try:
            anchors.append(Path(p).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"trust anchors {p}: unreadable ({exc}); not used")
    return anchors, problems


def _truncated_by(path: Path, size: int) -> int:
    """How many bytes the file lacks: the top-level box sizes run past its end by that much (0 when whole)."""
    pos = 0
    try:
        with open(path, "rb") as f:
            while pos < size:
                f.seek(pos)
                hdr = f.read(16)
                if len(hdr) < 8:
                    return 8 - len(hdr)
                box = int.from_bytes(hdr[:4], "big")
                if box == 1:
                    if len(hdr) < 16:
                        return 16 - len(hdr)
                    box = int.from_bytes(hdr[8:16], "big")
                elif box == 0:  # runs to the end of the file
                    return 0
                if box < 8:
                    return 0  # not a box structure we can judge; the reader will say what is wrong
                pos += box
    except OSError:
        return 0
    return max(0, pos - size)


def _what_is(path: Path) -> str:
    """'video', or a phrase saying what the file is instead."""
    from ..media import FfmpegError, probe

    images = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "tiff_pipe")
    try:
        info = probe(path)
    except (FfmpegError, OSError):
        return "not a media file ffmpeg can read"
    except NewsreelError as exc:
        return f"unreadable ({exc.one_line()})"
    if info.video is None:
        return "audio only" if info.audio is not None else "not a video"
    if any(info.format.startswith(f) for f in images) or not info.duration:
        return "a still image"
    return "video"


def _manifest_check(report: ManifestReport) -> ManifestCheck:
    if report.error:
        return ManifestCheck(present=True, readable=False, error=report.error)
    m = report.manifest
    gen = (m.get("claim_generator_info") or [{}])[0] if m.get("claim_generator_info") else {}
    if gen:
        generator = f"{gen.get('name', '')}/{gen.get('version', '')}".strip("/")
    else:
        generator = str(m.get("claim_generator", ""))
    actions, dst, stages, label = [], "", {}, None
    names, elements = [], []
    for a in m.get("assertions") or []:
        names.append(a.get("label", ""))
        data = a.get("data") or {}
        if a.get("label", "").startswith("c2pa.actions"):
            for act in data.get("actions") or []:
                actions.append(act.get("action", ""))
                dst = dst or act.get("digitalSourceType", "")
        elif a.get("label") == f"{NS}.label":
            label = data
        elif a.get("label") == f"{NS}.ai_elements":
            elements = [str(e.get("text")) for e in data.get("elements") or [] if isinstance(e, dict) and e.get("text")]
        elif a.get("label", "").startswith(NS + ".") and "provider" in data:
            stage = a["label"][len(NS) + 1:]
            made = stage in ("script", "image", "voice")  # the stages a model may have made
            keys = ("provider", "model", "written_by", "voice") if made else ("provider",)
            stages[stage] = {k: data[k] for k in keys if data.get(k)}
            if stage == "image" and data.get("images") and data["images"][0].get("seed") is not None:
                stages[stage]["seed"] = data["images"][0]["seed"]
    sig = report.signer
    return ManifestCheck(
        present=True,
        generator=generator,
        from_newsreel=gen.get("name") == GENERATOR,
        signature_valid=not report.signature_failures,
        content_matches=not report.content_changed and not report.signature_failures,
        trusted=report.trusted,
        signed_by=str(sig.get("common_name", "")),
        issuer=str(sig.get("issuer", "")),
        algorithm=str(sig.get("alg", "")),
        ai_generated=dst.rsplit("/", 1)[-1] in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia",
                                                "algorithmicMedia", "compositeSynthetic"),
        digital_source_type=dst,
        actions=actions,
        assertions=names,
        stages=stages,
        visible_label=label,
        ai_elements=elements,
        failures=report.failures,
        label=report.label,
    )


def _sidecar_check(path: Path, report: ManifestReport) -> SidecarCheck | None:
    side = path.parent / SIDECAR
    if not side.is_file():
        return None
    check = SidecarCheck(path=str(side))
    try:
        data = json.loads(side.read_text())
        video = data.get("video") or {}
        expected = video["sha256"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        check.readable = False
        check.problem = f"unreadable ({type(exc).__name__})"
        return check
    same_name = path.name == video.get("file", "video.mp4")
    check.video_matches = sha256_file(path) == expected
    if not check.video_matches and not same_name:  # a sidecar about another file in the same folder
        check.video_matches = None
        check.problem = f"describes {video.get('file')}, not this file"
        return check
    named = (data.get("c2pa") or {}).get("manifest")
    if named and report.present and report.label:
        check.manifest_matches = named == report.label
    if same_name:
        for name, digest in (data.get("files") or {}).items():
            other = path.parent / name
            if not other.is_file():
                check.files[name] = "missing"
            else:
                check.files[name] = "ok" if sha256_file(other) == digest else "changed"
    return check


def _judge(report: ManifestReport, m: ManifestCheck | None, sidecar: SidecarCheck | None,
           wm: dict[str, Any] | None, short: int) -> tuple[Status, str]:
    marked = bool(wm and wm.get("found"))
    wm_line = (f" The newsreel video watermark is present (score {wm['score']}), so it was made with newsreel."
               if marked else "")
    if short:
        return "truncated", (f"Truncated: the file ends {short} bytes before its last box does, so it is incomplete "
                             "and cannot match anything signed.")
    if m is None:
        if sidecar and sidecar.video_matches:
            return "no-provenance", ("No provenance: no C2PA manifest in this file; provenance.json beside it matches "
                                     "its hash but is unsigned." + wm_line)
        stripped = " Its C2PA manifest was stripped." if marked else ""
        return "no-provenance", "No provenance: this file carries no C2PA manifest." + stripped + wm_line
    if not m.readable:
        return "invalid", f"Invalid: the C2PA manifest is damaged and cannot be read ({m.error})." + wm_line
    if not m.from_newsreel:
        valid = "valid" if m.signature_valid and m.content_matches else "not valid"
        tool = m.generator or "an unknown tool"
        return "other-tool", f"Not made by newsreel: the C2PA manifest was written by {tool} (signature {valid})."
    if report.content_changed:
        return "tampered", ("Tampered: the video's content no longer matches its signed C2PA manifest "
                            f"({', '.join(c for c in m.failures if c in CONTENT_CHANGED)}).")
    if report.signature_failures:
        return "invalid", f"Invalid: the C2PA manifest does not verify ({', '.join(report.signature_failures)})."
    if sidecar is not None and sidecar.readable and sidecar.video_matches is False:
        return "tampered", ("Tampered: the manifest is valid, but provenance.json beside the file describes "
                            "different bytes (the file was changed or swapped after the run).")
    trust = " (trusted on this machine)" if m.trusted else " (certificate not in your trust list)"
    who = f"signed by '{m.signed_by}'{trust}"
    return "verified", (f"Verified: made by {m.generator}, AI-generated ({m.digital_source_type.rsplit('/', 1)[-1]}), "
                        f"unchanged since it was {who}.")


def _describe(m: ManifestCheck | None, sidecar: SidecarCheck | None, wm: dict[str, Any] | None) -> list[str]:
    lines = []
    if m is not None and m.readable:
        lines.append(f"manifest: {m.label or '?'} by {m.generator or '?'}")
        if m.signed_by:
            trust = ("trusted: its certificate chains to a trust anchor on this machine" if m.trusted else
                     "not trusted here: the certificate is not in your trust list, so the signature proves the file is "
                     "unchanged since signing, not who signed it (newsreel signs with a key made on the machine that "
                     "made the video; its CA is trusted only there, or where you add it with --trust)")
            lines.append(f"signer: {m.signed_by} (issuer {m.issuer or '?'}, {m.algorithm or '?'}); {trust}")
        if m.digital_source_type:
            lines.append(f"source type: {m.digital_source_type}")
        if m.actions:
            lines.append(f"actions: {', '.join(m.actions)}")
        for stage, facts in m.stages.items():
            lines.append(f"{stage}: " + ", ".join(f"{k} {_short(v)}" for k, v in facts.items()))
        if m.ai_elements:
            lines.append(f"also machine-made: {'; '.join(m.ai_elements)}")
        if m.visible_label is not None:
            v = m.visible_label.get("visible")
            shown = f"on ('{m.visible_label.get('text')}')" if v else "off" if v is False else "unknown"
            lines.append(f"visible label: {shown}")
        failures = [c for c in m.failures if c not in NOT_TRUSTED]  # untrusted: said on the signer line
        if failures:
            lines.append(f"validation failures: {', '.join(failures)}")
    if sidecar is not None:
        if not sidecar.readable:
            lines.append(f"sidecar: {sidecar.path} {sidecar.problem}")
        else:
            states = {True: "matches this file", False: "does NOT match this file", None: sidecar.problem or "not checked"}
            state = states[sidecar.video_matches]
            lines.append(f"sidecar: {sidecar.path} {state}")
            if sidecar.manifest_matches is False:
                lines.append("sidecar: names a different manifest than the one embedded")
            changed = [n for n, s in sidecar.files.items() if s != "ok"]
            if changed:
                lines.append("run folder: " + ", ".join(f"{n} {sidecar.files[n]}" for n in changed))
    if wm is not None:
        if wm.get("error"):
            lines.append(f"watermark: not checked ({wm['error']})")
        else:
            found = "found" if wm["found"] else "not found"
            lines.append(f"watermark: {found} (score {wm['score']}, threshold {wm['threshold']}, payload bits "
                         f"{wm['bits_matched']}/{wm['bits']}, {wm['frames']} frames)")
    return lines


def _short(value: Any) -> str:
    if isinstance(value, dict):
        first = ", ".join(f"{k} {v}" for k, v in list(value.items())[:2])
        value = value.get("model_file") or value.get("sha256") or first
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_verdict(verdict: Verdict) -> str:
    """The verdict for people: the summary, then one line per fact."""
    lines = [f"{verdict.status.upper()}: {verdict.path}", verdict.summary]
    lines += [f"  {line}" for line in verdict.details]
    return "\n".join(lines)
