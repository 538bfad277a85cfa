"""Provenance anyone can check: a C2PA manifest signed into every video, a `provenance.json` sidecar, and `verify`.

Sealing (`seal`, called by the runner after every stage is done, as the very last step: any remux after signing
drops the manifest) signs the compose stage's MP4 straight from the cache into the run folder under a temp name,
reads the signed copy back, and renames it over `video.mp4`. The manifest (C2PA, written with `c2pa-python`) says:

- who made it: `claim_generator_info` newsreel/<version>;
- that it is AI-generated: a `c2pa.created` action with the IPTC digital source type `trainedAlgorithmicMedia`,
  then a `c2pa.edited` action for the compose step (motion, captions, graphics, the visible label, the encode);
- how: one assertion per stage (`org.newsreel.script`, `.image`, `.voice`, `.captions`, `.compose`) with the
  provider, its version and parameters, the model identity, the prompts and seeds, the cache key, the sha256 of
  every file the stage exported, and what the provider says about itself (`Provider.provenance()`, recorded in
  run.json: e.g. its prompt templates' hashes); `org.newsreel.label` says whether the on-screen "AI-GENERATED"
  label is on, as the compose provider reports it (unknown when it does not), `org.newsreel.watermark` whether the
  frames carry the invisible video watermark (the compose stage's notes). Nothing here knows a provider by name.

The C2PA binding (`c2pa.hash.bmff`) hashes the MP4's boxes, so changing any media byte breaks the manifest. The
sidecar holds the same assertions plus the sha256 of the signed file, so the run folder can be checked too.

The signing key and certificate are the user's (`key`/`cert` arguments, from settings), or a local CA and a leaf
certificate newsreel makes on first use in the user data dir (`<user data>/newsreel/c2pa/`, private keys mode
0600), never in the output or the cache. A local certificate is trusted on the machine that made it (its CA is a
trust anchor there) and proves elsewhere only that the file is unchanged since it was signed, not who signed it.

`verify(path)` reads a file's manifest, checks the sidecar next to it and looks for the watermark, and returns a
`Verdict` with a status, an exit code and one-line summary; `format_verdict` renders it for people.
c2pa, cryptography and numpy are imported only inside the functions that use them.

One job per module: `identity` (signing keys, the local CA), `manifest` (the assertions, `build_manifest`),
`sealing` (`seal`, signing, the sidecar), `reading` (a file's manifest read back), `verify` (the verdict). This
package re-exports their public names, so callers import from `pipeline.provenance`.
"""

from __future__ import annotations

from .identity import ALGS, SigningIdentity, key_dir, local_ca, local_identity, signing_identity
from .manifest import (
    GENERATOR,
    IPTC,
    NS,
    SIDECAR,
    SIDECAR_FORMAT,
    TRAINED,
    build_manifest,
    label_state,
    stage_assertions,
    watermark_state,
)
from .reading import C2PA_BMFF_UUID, CONTENT_CHANGED, NO_NETWORK, NOT_TRUSTED, ManifestReport, is_bmff, read_manifest
from .sealing import Sealed, seal
from .verify import EXIT_CODES, ManifestCheck, SidecarCheck, Status, Verdict, format_verdict, verify

__all__ = [
    "ALGS",
    "C2PA_BMFF_UUID",
    "CONTENT_CHANGED",
    "EXIT_CODES",
    "GENERATOR",
    "IPTC",
    "NOT_TRUSTED",
    "NO_NETWORK",
    "NS",
    "SIDECAR",
    "SIDECAR_FORMAT",
    "TRAINED",
    "ManifestCheck",
    "ManifestReport",
    "Sealed",
    "SidecarCheck",
    "SigningIdentity",
    "Status",
    "Verdict",
    "build_manifest",
    "format_verdict",
    "is_bmff",
    "key_dir",
    "label_state",
    "local_ca",
    "local_identity",
    "read_manifest",
    "seal",
    "signing_identity",
    "stage_assertions",
    "verify",
    "watermark_state",
]
