"""Script provider `text`: narration the user wrote, in any language, instead of a model's.

Give the narration inline (`--set script.text="..."`) or as a UTF-8 text file (`--set script.file=story.txt`),
exactly one of the two. The text is split into sentences by `pipeline.words.split_sentences`, like the model
providers' text (it knows abbreviations, decimals and the full stops of Chinese/Japanese 。！？ and
Arabic/Urdu ؟ ۔); paragraphs (blank lines) always end a sentence, and lines wrapped inside a paragraph are
joined (`pipeline.words.join_lines`: without a space between two Chinese/Japanese characters). The words are
the user's: nothing is added, cut or rephrased, so the video runs as long as the text takes to speak. The title is
the headline; the image prompt is built from the headline and the text, as the other providers build it.

The cache key holds the file's content (sha256), not its path: editing the file writes a new script, and the same
file in another folder hits the cache.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field

from ...errors import NewsreelError
from ...hashing import sha256_bytes
from ...provider import Needs, ProgressFn, ServerPath
from ...provider import Params as BaseParams
from ...stages.script import Script, ScriptProvider, check_headline
from ...words import count_words, join_lines, split_sentences
from . import _sourced, _text

MAX_WORDS = 3000  # the model providers' largest word budget; longer text is an article, not a news spot
MAX_FILE_BYTES = 1 << 20
EXAMPLE = "--provider script=text --set script.file=story.txt"


def narration_sentences(text: str) -> list[str]:
    """The user's narration -> sentences: paragraphs end sentences, wrapped lines are joined, stops split."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text.replace("\t", " "))
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        sentences.extend(split_sentences(join_lines(paragraph.splitlines())))
    return sentences


class TextScript(ScriptProvider):
    name = "text"
    run_options = frozenset({"language", "words"})
    takes_source = True  # with an article and no narration of yours: the article's lead sentences
    version = "1"
    summary = "Your own narration, any language: --set script.file=story.txt (UTF-8) or script.text=\"...\""
    needs = Needs()

    class Params(BaseParams):
        text: str | None = None  # the narration itself
        file: ServerPath | None = None  # or a UTF-8 text file holding it (its content, not its path, is in the cache key)
        language: str = "en"  # recorded on the script: the voice and the caption font follow it
        words: int = Field(150, ge=5, le=MAX_WORDS)  # with an article and no narration: the lead's length to read
        scenes: int = Field(1, ge=1, le=20)  # backgrounds: consecutive runs of sentences, each with its own prompt

    # ---------------------------------------------------------------------------------------------------------------

    def _read(self) -> tuple[str, bytes | None]:
        """(narration text, the file's bytes or None). NewsreelError naming the problem and the fix."""
        p = self.params
        if (p.text is None) == (p.file is None):
            both = p.text is not None
            raise NewsreelError(
                "script provider 'text' needs " + ("either text or file, not both" if both else "your narration"),
                f"pass one of: {EXAMPLE}, or --set script.text=\"...\""
                + ("" if both else "; or make the video from an article (--article FILE or --url URL): its lead is read"),
            )
        if p.text is not None:
            return p.text, None
        path = Path(p.file).expanduser()
        if not path.is_file():
            raise NewsreelError(
                f"script provider 'text': the narration file {path} "
                + ("is not a file" if path.exists() else "does not exist"),
                "pass the path of a UTF-8 text file: --set script.file=PATH",
            )
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise NewsreelError(
                    f"script provider 'text': the narration file {path} is {size} bytes; the limit is {MAX_FILE_BYTES}",
                    f"narrate a news spot (at most {MAX_WORDS} words), not a book",
                )
            data = path.read_bytes()
        except OSError as exc:
            raise NewsreelError(
                f"script provider 'text': cannot read the narration file {path} ({exc.strerror or exc})",
                "check that the file is readable",
            ) from None
        try:
            return data.decode("utf-8-sig"), data
        except UnicodeDecodeError as exc:
            raise NewsreelError(
                f"script provider 'text': the narration file {path} is not UTF-8 text (byte {exc.start})",
                "save it as UTF-8 (most editors offer it under 'Save as' / encoding)",
            ) from None

    def _sentences(self) -> tuple[list[str], bytes | None]:
        text, data = self._read()
        where = f"the narration file {Path(self.params.file or '').expanduser()}" if data is not None else "the narration text"
        sentences = narration_sentences(text)
        if not sentences:
            raise NewsreelError(
                f"script provider 'text': {where} has no words",
                "write the narration in it, one or more sentences",
            )
        words = count_words(" ".join(sentences))
        if words > MAX_WORDS:
            raise NewsreelError(
                f"script provider 'text': {where} has {words} words; the limit is {MAX_WORDS}",
                "shorten it to a news spot (about 150 words make a minute)",
            )
        return sentences, data

    def check(self) -> None:
        if self.params.text is None and self.params.file is None:
            return  # a job with an article reads its lead; run() says what is missing for a job without one
        self._sentences()

    def key_params(self) -> dict[str, Any]:
        """The file's content, not its path, goes into the cache key."""
        key = super().key_params()
        key["templates_sha256"] = _text.templates_sha256()  # the image prompt comes from templates/image_prompt.j2
        if self.params.file is not None:
            _, data = self._read()
            key["file"] = "file"
            key["file_sha256"] = sha256_bytes(data or b"")
        return key

    def model_label(self) -> str:
        """No model writes this narration: it is the user's (or, with an article and no narration, the article's)."""
        return "given as text (no model)"

    def provenance(self) -> dict[str, Any]:
        """The narration is the user's; the one prompt it renders is the image prompt (via make_script)."""
        return _text.templates_provenance("image_prompt.j2")

    def run(self, *, headline: str, workdir: Path, progress: ProgressFn, source: Any = None) -> Script:
        headline = check_headline(headline)
        p = self.params
        if source is not None and p.text is None and p.file is None:  # no narration of yours: the article's lead
            sentences = _sourced.lead_sentences(source, p.words)
            words = _text.count_words(" ".join(sentences))
            progress(1.0, f"script read from the article ({words} words)")
            return _text.make_script(
                headline, sentences, language=p.language, scenes=p.scenes, words_target=p.words,
                model="the article's own lead sentences", notes={"source": "article"},
            )
        sentences, data = self._sentences()
        text = " ".join(sentences)
        words = count_words(text)
        progress(1.0, f"script read ({words} words)")
        return _text.make_script(
            headline, sentences, language=p.language, scenes=p.scenes, words_target=words,
            model="written by the user" + (f" (file sha256 {sha256_bytes(data)[:12]})" if data is not None else ""),
            notes={"source": "file" if data is not None else "text", "verbatim": True},  # the user's words: never rewritten
        )
