"""Provenance: the C2PA manifest signed into a real run's video, the sidecar, and `verify` on good and bad files.

One run is made for the module (the test plugin's fast script, image and voice; the real `subtitles` captions and
`ffmpeg` compose, so the video is a real MP4 of about 3 s). Tests that damage files work on copies.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline import provenance
from pipeline.errors import NewsreelError
from pipeline.media import run_ffmpeg
from tests.conftest import ENTRY_POINTS, PLUGIN_DIR

PROVIDERS = {"script": "echo", "image": "flat", "voice": "beep", "captions": "subtitles", "compose": "ffmpeg"}
HEADLINE = "Breakthrough in Mars Project"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Isolated config, cache and user data dir (where the local signing key goes), and the test plugin."""
    from pipeline import plugins

    root = tmp_path_factory.mktemp("prov")
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith("NEWSREEL_"):
            mp.delenv(name)
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "xcache"), ("XDG_DATA_HOME", "data")):
        mp.setenv(var, str(root / sub))
    mp.setenv("NEWSREEL_CACHE_DIR", str(root / "cache"))
    mp.setenv("NEWSREEL_TARGET_SECONDS", "6")
    site = root / "site"
    dist = site / "newsreel_testplugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-testplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    mp.syspath_prepend(str(site))
    mp.syspath_prepend(str(PLUGIN_DIR))
    (root / "cwd").mkdir()
    mp.chdir(root / "cwd")
    plugins._entry_points.cache_clear()
    yield root
    mp.undo()
    plugins._entry_points.cache_clear()


@pytest.fixture(scope="module")
def run(env):
    from pipeline import make_video

    return make_video(HEADLINE, out=env / "run", providers=PROVIDERS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def boxes(data: bytes) -> dict[str, tuple[int, int]]:
    out, pos = {}, 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        out.setdefault(kind, (pos, size))
        if size < 8:
            break
        pos += size
    return out


def copy_run(run, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(run.out, folder)
    return folder


def test_a_fresh_video_verifies(run):
    v = provenance.verify(run.video)
    assert v.status == "verified" and v.exit_code == 0, v.summary
    m = v.manifest
    assert m.from_newsreel and m.generator == "newsreel/0.1.0"
    assert m.signature_valid and m.content_matches
    assert m.trusted  # this machine's local CA is a trust anchor here
    assert m.signed_by.startswith("newsreel signer ") and m.algorithm.lower() == "es256"
    assert m.ai_generated and m.digital_source_type.endswith("/trainedAlgorithmicMedia")
    assert m.actions == ["c2pa.created", "c2pa.edited"]
    assert m.stages["image"]["provider"] == "flat" and m.stages["voice"]["voice"] == "beep 50"
    assert m.visible_label == {"visible": True, "text": "AI-GENERATED"}
    assert v.sidecar.video_matches is True and v.sidecar.manifest_matches is True
    assert set(v.sidecar.files.values()) == {"ok"} and "image.png" in v.sidecar.files
    assert v.watermark is not None and v.watermark["frames"] >= 1  # looked for (compose does not mark yet)
    text = provenance.format_verdict(v)
    assert text.startswith("VERIFIED: ") and "AI-generated" in text and "visible label: on ('AI-GENERATED')" in text


def test_run_json_and_sidecar_record_the_same_facts(run):
    out = run.out
    record = json.loads((out / "run.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted(record["files"])  # no temp file left behind
    assert "provenance.json" in record["files"]
    assert record["provenance"]["c2pa"] is True and record["provenance"]["signing_key"] == "local"
    side = json.loads((out / "provenance.json").read_text())
    assert side["video"]["sha256"] == sha256(out / "video.mp4")
    assert side["video"]["unsigned_sha256"] != side["video"]["sha256"]
    assert side["c2pa"]["manifest"] == record["provenance"]["manifest"]
    assert side["cache_keys"] == {s: r["key"] for s, r in record["stages"].items()}
    assert side["files"]["script.json"] == sha256(out / "script.json")
    assert side["files"]["narration.wav"] == sha256(out / "narration.wav")
    labels = [a["label"] for a in side["assertions"]]
    assert labels == ["c2pa.actions.v2", "org.newsreel.script", "org.newsreel.image", "org.newsreel.voice",
                      "org.newsreel.captions", "org.newsreel.presenter", "org.newsreel.compose", "org.newsreel.source",
                      "org.newsreel.label", "org.newsreel.ai_elements",
                      "org.newsreel.watermark"]
    # The signed file is still the compose stage's video: same streams, same length.
    from pipeline.media import probe

    info = probe(out / "video.mp4")
    assert info.video.codec == "h264" and info.audio.codec == "aac" and 2.0 < info.duration < 6.0


def test_the_signing_key_lives_in_the_user_data_dir_private(run, env):
    folder = provenance.key_dir()
    assert folder == env / "data" / "newsreel" / "c2pa"
    assert (folder / "signer.key").stat().st_mode & 0o777 == 0o600
    assert (folder / "ca.key").stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    for where in (run.out, env / "cache"):
        assert not [p for p in where.rglob("*") if p.suffix in (".key", ".pem")]


def test_another_c2pa_reader_lists_our_assertions(run):
    import c2pa

    with open(run.video, "rb") as f, c2pa.Reader("video/mp4", f) as reader:
        manifest = reader.get_active_manifest()
        state = reader.get_validation_state()
    assert state == "Valid"  # valid signature; not "Trusted" without our CA as an anchor
    assert manifest["claim_generator_info"][0]["name"] == "newsreel"
    assert manifest["title"] == HEADLINE
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    ours = {"c2pa.hash.bmff.v3", "c2pa.actions.v2", "org.newsreel.script", "org.newsreel.image",
            "org.newsreel.voice", "org.newsreel.captions", "org.newsreel.compose", "org.newsreel.label"}
    assert ours <= set(assertions)
    created = assertions["c2pa.actions.v2"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert assertions["org.newsreel.image"]["images"][0]["prompt"] == HEADLINE
    voice = assertions["org.newsreel.voice"]
    assert voice["engine"] == "beep" and voice["voice"] == "beep 50"
    assert assertions["org.newsreel.script"]["files"]["script.json"] == sha256(run.out / "script.json")
    assert assertions["org.newsreel.label"]["visible"] is True
    # With our CA as a trust anchor, the same reader says Trusted.
    ca = provenance.local_ca().read_text()
    context = c2pa.Context.from_dict({"trust": {"trust_anchors": ca}})
    with open(run.video, "rb") as f, c2pa.Reader("video/mp4", f, None, context) as r:
        assert r.get_validation_state() == "Trusted"


def test_one_changed_media_byte_is_tampering(run, tmp_path):
    folder = copy_run(run, tmp_path)
    video = folder / "video.mp4"
    data = bytearray(video.read_bytes())
    start, size = boxes(bytes(data))["mdat"]
    data[start + size // 2] ^= 0x01
    video.write_bytes(bytes(data))
    v = provenance.verify(video, watermark=False)
    assert v.status == "tampered" and v.exit_code == 1
    assert "assertion.bmffHash.mismatch" in v.manifest.failures
    assert v.sidecar.video_matches is False
    assert v.summary.startswith("Tampered: the video's content no longer matches")


def test_a_stripped_manifest_is_no_provenance(run, tmp_path):
    stripped = tmp_path / "stripped.mp4"
    run_ffmpeg(["-y", "-i", os.fspath(run.video), "-c", "copy", "-map", "0", os.fspath(stripped)], loglevel="error")
    assert "uuid" not in boxes(stripped.read_bytes())
    v = provenance.verify(stripped)
    assert v.status == "no-provenance" and v.exit_code == 1
    assert v.manifest is None and "no C2PA manifest" in v.summary


def test_a_crf_28_reencode_reports_whether_the_watermark_survived(run, tmp_path):
    out = tmp_path / "crf28.mp4"
    run_ffmpeg(["-y", "-i", os.fspath(run.video), "-c:v", "libx264", "-crf", "28", "-c:a", "copy", os.fspath(out)],
               loglevel="error")
    v = provenance.verify(out)
    assert v.status == "no-provenance" and v.exit_code == 1
    assert v.watermark is not None and v.watermark["frames"] >= 1
    assert v.watermark["found"] is (v.watermark["score"] >= v.watermark["threshold"])
    assert any(line.startswith("watermark: ") for line in v.details)


def marked_clip(path: Path, seconds: float = 2.0) -> Path:
    """A 720p clip whose frames carry the video watermark (as compose will mark them), with audio, like compose's."""
    import cv2

    from pipeline.video_watermark import Marker

    w, h = 1280, 720
    rng = np.random.default_rng(0)
    small = rng.random((9, 16, 3)).astype(np.float32)
    bg = (cv2.resize(small, (w + 64, h + 36), interpolation=cv2.INTER_CUBIC) * 160 + 40).astype(np.uint8)
    marker = Marker(w, h)
    n = round(seconds * 30)
    def frame(i: int):  # a slow diagonal pan over the background
        y = 18 - i * 18 // n
        return marker.embed(np.ascontiguousarray(bg[y:y + h, i:i + w]), i)

    frames = (frame(i) for i in range(n))
    run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "30", "-i", "pipe:0",
                "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
                os.fspath(path)],
               feed=(f.tobytes() for f in frames), loglevel="error")
    return path


def sealed_record(method: str) -> dict:
    """A run.json record as the runner writes it for an ffmpeg compose (its label reported through provenance())."""
    return {"headline": HEADLINE, "created": "2026-01-01T00:00:00Z",
            "stages": {"compose": {"provider": "ffmpeg", "version": "2", "params": {"label": "AI-GENERATED"},
                                   "key": "k", "digest": "d", "identity": {}, "notes": {"watermark": method},
                                   "provenance": {"visible_label": {"visible": True, "text": "AI-GENERATED"}}}}}


@pytest.mark.slow
def test_a_marked_video_keeps_its_watermark_through_a_crf_28_reencode(env, tmp_path):
    from pipeline.video_watermark import METHOD

    clip = marked_clip(tmp_path / "unsigned.mp4")
    out = tmp_path / "run"
    out.mkdir()
    sealed = provenance.seal(out, {"video.mp4": clip}, sealed_record(METHOD))
    assert "video.mp4" not in sealed.files and "provenance.json" in sealed.files
    (out / "provenance.json").write_bytes(sealed.files["provenance.json"])
    v = provenance.verify(out / "video.mp4")
    assert v.status == "verified" and v.watermark["found"] and v.watermark["bits_matched"] >= 58, v
    assert json.loads(sealed.files["provenance.json"])["watermark"] == {"embedded": True, "method": METHOD,
                                                                        "payload": "newsreel"}
    again = tmp_path / "again.mp4"
    run_ffmpeg(["-y", "-i", os.fspath(out / "video.mp4"), "-c:v", "libx264", "-crf", "28", "-c:a", "copy",
                os.fspath(again)], loglevel="error")
    v = provenance.verify(again)
    assert v.status == "no-provenance" and v.exit_code == 1
    assert v.watermark["found"] and v.watermark["score"] > 8
    assert "watermark is present" in v.summary and "stripped" in v.summary


def test_bad_inputs_each_get_their_own_verdict(run, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    png = tmp_path / "still.png"
    shutil.copyfile(run.out / "image.png", png)
    truncated = tmp_path / "truncated.mp4"
    data = run.video.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    uuid_at, uuid_size = boxes(data)["uuid"]
    bad_sig = tmp_path / "bad-signature.mp4"
    damaged = bytearray(data)
    damaged[uuid_at + uuid_size - 20] ^= 0xFF  # inside the COSE signature, the manifest's last bytes
    bad_sig.write_bytes(bytes(damaged))
    broken = tmp_path / "broken-manifest.mp4"
    damaged = bytearray(data)
    at = data.index(b"c2pa.signature", uuid_at)
    damaged[at + 200] ^= 0xFF  # inside the claim: the reader cannot even parse it
    broken.write_bytes(bytes(damaged))
    cases = {
        tmp_path / "missing.mp4": ("missing", 2, "No such file"),
        tmp_path: ("not-a-video", 2, "Not a video"),
        text: ("not-a-video", 2, "Not a video"),
        png: ("not-a-video", 2, "still image"),
        truncated: ("truncated", 1, "Truncated"),
        bad_sig: ("invalid", 1, "does not verify"),
        broken: ("invalid", 1, "damaged"),
    }
    for path, (status, code, words) in cases.items():
        v = provenance.verify(path, watermark=False)
        assert (v.status, v.exit_code) == (status, code), (path.name, v.summary)
        assert words in v.summary, (path.name, v.summary)


def test_a_manifest_from_another_tool_is_not_newsreels(run, tmp_path):
    import c2pa

    identity = provenance.local_identity()
    other = tmp_path / "other.mp4"
    unsigned = run.artifacts["compose"].path
    definition = {"claim_generator_info": [{"name": "OtherTool", "version": "2.0"}], "title": "x",
                  "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created",
                      "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}}]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(identity.alg, identity.chain_pem, identity.key_pem, None))
    with c2pa.Builder(definition) as b, open(unsigned, "rb") as src, open(other, "w+b") as dst:
        b.sign(signer, "video/mp4", src, dst)
    v = provenance.verify(other, watermark=False)
    assert v.status == "other-tool" and v.exit_code == 1
    assert v.manifest.generator == "OtherTool/2.0" and not v.manifest.ai_generated
    assert "Not made by newsreel" in v.summary and "OtherTool" in v.summary


def make_pki(folder: Path, *, eku: bool = True) -> tuple[Path, Path, Path]:
    """A CA and a P-384 leaf of the user's own (key, chain, ca)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Newsroom Test CA")])
    ku = {"content_commitment": False, "key_encipherment": False, "data_encipherment": False,
          "key_agreement": False, "encipher_only": False, "decipher_only": False}
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **ku), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA384()))
    desk = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Newsroom Desk")])
    leaf = (x509.CertificateBuilder().subject_name(desk).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **ku),
                           critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if eku:
        leaf = leaf.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    leaf = leaf.sign(ca_key, hashes.SHA384())
    pem = serialization.Encoding.PEM
    paths = folder / "desk.key", folder / "desk-chain.pem", folder / "ca.pem"
    paths[0].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths[1].write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(ca.public_bytes(pem))
    return paths


def test_a_user_supplied_key_signs_and_a_bad_certificate_says_why(run, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    key, chain, ca = make_pki(keys)
    out = tmp_path / "out"
    out.mkdir()
    unsigned = run.artifacts["compose"].path
    sealed = provenance.seal(out, {"video.mp4": unsigned}, sealed_record("x"), key=key, cert=chain)
    assert sealed.summary["signing_key"] == "configured" and sealed.summary["signer"] == "Newsroom Desk"
    v = provenance.verify(out / "video.mp4", watermark=False)
    assert v.status == "verified" and not v.manifest.trusted and v.manifest.algorithm.lower() == "es384"
    assert provenance.verify(out / "video.mp4", watermark=False, trust_anchors=[ca]).manifest.trusted
    # A key inside the output folder is refused, a leaf without the signing EKU gets a hint.
    with pytest.raises(NewsreelError, match="inside the output"):
        provenance.seal(keys, {"video.mp4": unsigned}, sealed_record("x"), key=key, cert=chain)
    bad = tmp_path / "bad"
    bad.mkdir()
    key, chain, _ = make_pki(bad, eku=False)
    with pytest.raises(NewsreelError) as err:
        provenance.seal(out, {"video.mp4": unsigned}, sealed_record("x"), key=key, cert=chain)
    assert "extendedKeyUsage" in err.value.hint
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temp file left
    with pytest.raises(NewsreelError, match="needs its certificate"):
        provenance.signing_identity(key, None)


def test_a_cached_rerun_signs_again_in_well_under_a_second(run, env):
    from pipeline import make_video

    t0 = time.perf_counter()
    again = make_video(HEADLINE, out=env / "again", providers=PROVIDERS)
    seconds = time.perf_counter() - t0
    assert all(r["hit"] for r in again.record["stages"].values())
    assert again.record["provenance"]["seconds"] < 1.0 and seconds < 3.0
    assert again.record["provenance"]["manifest"] != run.record["provenance"]["manifest"]
    assert provenance.verify(again.video, watermark=False).status == "verified"


def test_c2pa_and_the_sealing_code_do_not_import_torch():
    code = "import sys, c2pa, pipeline.provenance, pipeline.video_watermark; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_compose_output_that_is_not_an_mp4_is_left_unsigned(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("a text file standing in for a video")
    out = tmp_path / "out"
    out.mkdir()
    sealed = provenance.seal(out, {"video.mp4": fake}, sealed_record("x"))
    assert sealed.files["video.mp4"] == fake and sealed.summary["c2pa"] is False
    side = json.loads(sealed.files["provenance.json"])
    assert side["c2pa"]["embedded"] is False and side["video"]["sha256"] == sha256(fake)


@pytest.mark.parametrize(
    "said, expected",
    [
        ({"visible_label": {"visible": True, "text": "AI-GENERATED"}}, {"visible": True, "text": "AI-GENERATED"}),
        ({"visible_label": {"visible": False, "text": None}}, {"visible": False, "text": None}),
        ({"visible_label": {"visible": False, "text": "AI"}}, {"visible": False, "text": None}),
        ({}, {"visible": None, "text": None, "note": "the compose provider does not report a visible label"}),
        ({"visible_label": "on"}, {"visible": None, "text": None,
                                   "note": "the compose provider does not report a visible label"}),
        ({"visible_label": {"visible": True, "text": " "}},
         {"visible": None, "text": None, "note": "the compose provider reports a visible label but not its text"}),
    ],
)
def test_visible_label_state_is_what_the_compose_provider_reports(said, expected):
    # The compose stage's parameters say nothing: only the provider's own provenance facts count.
    record = {"stages": {"compose": {"params": {"label": "IGNORED", "label_visible": True}, "provenance": said}}}
    assert provenance.label_state(record) == expected


def test_ffmpeg_reports_the_label_it_draws_and_the_script_providers_their_templates():
    from pipeline.assets import TEMPLATES_DIR
    from pipeline.providers.compose.ffmpeg import FfmpegCompose
    from pipeline.providers.script.local import LocalScript
    from pipeline.providers.script.openai import OpenAIScript
    from pipeline.providers.script.text import TextScript

    said = FfmpegCompose({"label": "  SYNTHETIC   VIDEO "}).provenance()
    assert said == {"visible_label": {"visible": True, "text": "SYNTHETIC VIDEO"}}
    assert provenance.label_state({"stages": {"compose": {"provenance": said}}})["text"] == "SYNTHETIC VIDEO"

    def templates(provider):
        return provider.provenance()["prompt_templates_sha256"]

    names = ("script_prompt.j2", "script_continue.j2", "script_from_source.j2", "image_prompt.j2")
    digest = {n: sha256(TEMPLATES_DIR / n) for n in names}
    assert templates(LocalScript()) == digest
    assert templates(OpenAIScript({"model": "m", "base_url": "http://127.0.0.1:9/v1"})) == {
        n: digest[n] for n in ("script_prompt.j2", "script_from_source.j2", "image_prompt.j2")}
    assert templates(TextScript({"text": "Our own words."})) == {"image_prompt.j2": digest["image_prompt.j2"]}


def test_watermark_state_comes_from_the_compose_notes():
    def state(notes):
        return provenance.watermark_state({"stages": {"compose": {"notes": notes, "params": {"watermark": False}}}})

    assert state({"watermark": "newsreel-dct-1"}) == {"embedded": True, "method": "newsreel-dct-1",
                                                       "payload": "newsreel"}
    assert state({"watermark": False}) == {"embedded": False, "note": "turned off"}
    assert state({}) == {"embedded": False, "note": "the compose stage does not report marking the frames"}


# A third-party compose package: it copies an MP4 it is given (so the run is signed like a real one); `labelled`
# declares the label it says it draws through provenance(), `copy` declares nothing.
THIRD_PARTY = """\
import shutil

from pipeline.stages.compose import Video
from newsreel_testplugin import ListingCompose


class CopyCompose(ListingCompose):
    name = "copy"

    class Params(ListingCompose.Params):
        source: str

    def run(self, *, script, image, voice, captions, workdir, progress):
        shutil.copyfile(self.params.source, workdir / "video.mp4")
        p = self.params
        return Video(path=workdir / "video.mp4", duration=voice.duration, width=p.width, height=p.height, fps=p.fps)


class LabelledCompose(CopyCompose):
    name = "labelled"

    class Params(CopyCompose.Params):
        banner: str = "SYNTHETIC MEDIA"

    def provenance(self):
        return {"visible_label": {"visible": True, "text": self.params.banner}, "renderer": "copies its source"}
"""


@pytest.fixture(scope="module")
def third_party(env):
    from pipeline import plugins

    site = env / "site"
    (site / "newsreel_thirdparty.py").write_text(THIRD_PARTY)
    dist = site / "newsreel_thirdparty-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-thirdparty\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[newsreel.providers]\ncompose.copy = newsreel_thirdparty:CopyCompose\n"
                                           "compose.labelled = newsreel_thirdparty:LabelledCompose\n")
    plugins._entry_points.cache_clear()
    return env


@pytest.mark.parametrize(
    "compose, said, label",
    [
        ("labelled", {"visible_label": {"visible": True, "text": "MADE BY A MACHINE"}, "renderer": "copies its source"},
         {"visible": True, "text": "MADE BY A MACHINE"}),
        ("copy", {}, {"visible": None, "text": None, "note": "the compose provider does not report a visible label"}),
    ],
)
def test_a_third_party_compose_says_its_label_through_provenance(run, third_party, compose, said, label):
    import c2pa

    from pipeline import make_video

    params = {"source": str(run.artifacts["compose"].path)}  # an unsigned MP4 from the module's run
    if compose == "labelled":
        params["banner"] = "MADE BY A MACHINE"
    # A compose that draws no presenter is refused one; the default anchor is left out (`none`).
    providers = {**PROVIDERS, "compose": compose, "presenter": "none"}
    done = make_video(HEADLINE, out=third_party / compose, providers=providers,
                      params={"compose": params})
    assert done.record["stages"]["compose"]["provenance"] == said  # the runner recorded what the provider said
    v = provenance.verify(done.video, watermark=False)
    assert v.status == "verified", v.summary
    assert v.manifest.visible_label == label
    shown = "on ('MADE BY A MACHINE')" if label["visible"] else "unknown"
    assert f"visible label: {shown}" in provenance.format_verdict(v)
    with open(done.video, "rb") as f, c2pa.Reader("video/mp4", f) as reader:
        assertions = {a["label"]: a["data"] for a in reader.get_active_manifest()["assertions"]}
    composed = assertions["org.newsreel.compose"]
    assert composed["provider"] == compose and composed["visible_label"] == label
    assert composed.get("renderer") == said.get("renderer")  # any fact the provider states joins its assertion
    assert composed["files"] == {}  # the video is hashed by its C2PA binding; no poster or thumbnail was exported
    assert assertions["org.newsreel.label"] == label
    edited = assertions["c2pa.actions.v2"]["actions"][1]["description"]
    expected = "the visible label 'MADE BY A MACHINE'" if label["visible"] else "no visible AI label"
    assert expected in edited
    script = assertions["org.newsreel.script"]
    assert "prompt_templates_sha256" not in script  # the test plugin's echo script renders no template


def test_cli_verify_exit_codes_and_json(run, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pipeline", "verify", *args], capture_output=True, text=True,
                              timeout=120, check=False)

    ok = cli(str(run.out), "--json", "--no-watermark")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "verified"
    broken = tmp_path / "t.mp4"
    data = bytearray(run.video.read_bytes())
    start, _ = boxes(bytes(data))["mdat"]
    data[start + 100] ^= 0x10
    broken.write_bytes(bytes(data))
    bad = cli(str(broken), "--no-watermark")
    assert bad.returncode == 1 and bad.stdout.startswith("TAMPERED: ")
    gone = cli(str(tmp_path / "nothing.mp4"))
    assert gone.returncode == 2 and "No such file" in gone.stdout
    assert "Exit codes" in cli("--help").stdout


@pytest.mark.parametrize(
    "presenter, drew, listed",
    [
        ({"ai_element": {"element": "presenter", "description": "a news anchor drawn by code"}},
         {"drawn": True, "look": "mei"}, ["AI-generated presenter (a news anchor drawn by code, look mei)"]),
        ({}, {"drawn": True, "look": "ada"}, ["AI-generated presenter (look ada)"]),  # said nothing: still listed
        ({"ai_element": {"element": "presenter", "description": "x"}},
         {"drawn": False, "why": "compose engine 'zoompan' does not draw presenters"}, []),
        ({"ai_element": {"element": "presenter", "description": "x"}}, None, []),  # kind none: compose notes nothing
    ],
)
def test_ai_elements_are_what_compose_drew_in_the_presenters_own_words(presenter, drew, listed):
    record = {"stages": {"presenter": {"provider": "p", "provenance": presenter},
                         "compose": {"provider": "ffmpeg", "notes": {"presenter": drew} if drew else {}}}}
    assert [e["text"] for e in provenance.manifest.ai_elements(record)] == listed
    created = provenance.manifest.build_manifest(record, {}, {})["assertions"][0]["data"]["actions"][0]
    assert ("It shows an AI-generated presenter" in created["description"]) == bool(listed)


def test_a_drawn_presenter_is_named_in_the_manifest_as_ai_generated(env):
    import c2pa

    from pipeline import make_video
    from pipeline.providers.presenter.anchor import AnchorPresenter

    said = AnchorPresenter({"look": "mei"}).provenance()  # asked of the provider, as the runner asks it
    assert said["ai_element"]["description"] == "a news anchor drawn by code"
    done = make_video(HEADLINE, out=env / "presented", providers={**PROVIDERS, "presenter": "anchor"},
                      params={"presenter": {"look": "mei"}, "compose": {"width": 320, "height": 180, "fps": 12}})
    assert done.record["stages"]["presenter"]["provenance"] == said
    v = provenance.verify(done.video, watermark=False)
    assert v.status == "verified", v.summary
    assert v.manifest.ai_elements == ["AI-generated presenter (a news anchor drawn by code, look mei)"]
    assert "also machine-made: AI-generated presenter (a news anchor drawn by code, look mei)" in \
        provenance.format_verdict(v)
    with open(done.video, "rb") as f, c2pa.Reader("video/mp4", f) as reader:
        assertions = {a["label"]: a["data"] for a in reader.get_active_manifest()["assertions"]}
    created = assertions["c2pa.actions.v2"]["actions"][0]["description"]
    assert "It shows an AI-generated presenter (a news anchor drawn by code, look mei)." in created
    assert assertions["org.newsreel.ai_elements"]["elements"][0]["look"] == "mei"
    assert assertions["org.newsreel.presenter"]["provider"] == "anchor"
