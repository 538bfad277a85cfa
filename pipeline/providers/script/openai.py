"""Script by any OpenAI-compatible chat API: OpenAI itself, or a `base_url` such as Ollama, a llama.cpp server or vLLM.

Asks for JSON matching a schema (title, sentences, image_prompt). Servers that refuse `json_schema` get
`json_object`, and those that refuse that get a plain-text request whose answer is split into sentences by the same
cleaner the local provider uses. Transient failures (429, 5xx, timeouts, dropped connections) are retried with
exponential backoff (`pipeline.providers._openai`, shared with the openai-tts voice); the openai client's own retries
are off so these are the only ones.

The API key comes from the secrets (OPENAI_API_KEY), never from params, and is kept out of logs, errors and the script.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...errors import NewsreelError
from ...provider import Needs, ProgressFn, ServerPath, operational
from ...provider import Params as BaseParams
from ...stages.script import Script, ScriptProvider, check_headline
from .._openai import API_KEY, OpenAICompatible, is_transient, plain_http_url
from . import _sourced, _text

log = logging.getLogger(__name__)

TOKENS_PER_WORD = 1.4
OVER_BUDGET = 0.10
FORMATS = ("json_schema", "json_object", "text")


class Draft(BaseModel):
    """What the model is asked to return."""

    model_config = ConfigDict(extra="ignore")

    title: str = ""
    sentences: list[str] = Field(min_length=1)
    image_prompt: str = ""

    @field_validator("sentences", mode="before")
    @classmethod
    def _one_string_is_a_paragraph(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


DRAFT_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "sentences": {"type": "array", "items": {"type": "string"}},
        "image_prompt": {"type": "string"},
    },
    "required": ["title", "sentences", "image_prompt"],
    "additionalProperties": False,
}


class FormatRefused(Exception):
    """The server does not do this response_format: try the next one."""


class OpenAIScript(OpenAICompatible, ScriptProvider):
    name = "openai"
    run_options = frozenset({"seed", "language", "words"})
    takes_source = True
    version = "1"
    summary = "Any OpenAI-compatible chat API: OpenAI, or a base_url for Ollama, a llama.cpp server, vLLM"
    needs = Needs(network=True, api_key=API_KEY, packages=("openai",), extra="openai")

    class Params(BaseParams):
        model: str = Field("gpt-4o-mini", min_length=1)
        base_url: ServerPath | None = None  # where the server sends its API key
        seed: int = 0
        words: int = Field(150, ge=5, le=3000)
        language: str = "en"
        temperature: float = Field(0.7, ge=0.0, le=2.0)
        scenes: int = Field(1, ge=1, le=20)  # backgrounds: consecutive runs of sentences, each with its own prompt
        timeout: float = operational(60.0, gt=0, le=3600)
        max_retries: int = operational(4, ge=0, le=20)

        @field_validator("base_url")
        @classmethod
        def _plain_http_url(cls, value: str | None) -> str | None:
            return plain_http_url(value, "http://localhost:11434/v1")

    # ---------------------------------------------------------------------------------------------------------------

    def key_params(self) -> dict[str, Any]:
        """The prompt templates' content is part of the key (see `_text.templates_sha256`)."""
        key = super().key_params()
        key["templates_sha256"] = _text.templates_sha256()
        return key

    def provenance(self) -> dict[str, Any]:
        """The prompts it renders: the request, and the image prompt when the model gives none or for scenes."""
        return _text.templates_provenance("script_prompt.j2", "script_from_source.j2", "image_prompt.j2")

    def check(self) -> None:
        missing = self.missing_packages()
        if missing:
            raise NewsreelError("script provider 'openai' needs the openai package", "pip install 'newsreel[openai]'")
        self.check_key()

    def identity(self) -> dict[str, Any]:
        return {"model": self.params.model, "base_url": self.url}

    # ---------------------------------------------------------------------------------------------------------------

    def run(self, *, headline: str, workdir: Path, progress: ProgressFn, source: Any = None) -> Script:
        headline = check_headline(headline)
        self.check()
        p = self.params
        client = self.client()
        if source is not None:  # restate the article (templates/script_from_source.j2)
            prompt = _sourced.prompt(source, words=p.words, language=_text.language_name(p.language), structured=True)
        else:
            prompt = _text.render(
                "script_prompt.j2",
                headline=headline,
                words=p.words,
                language=_text.language_name(p.language),
                structured=True,
            )
        messages = [{"role": "user", "content": prompt}]
        max_tokens = int(p.words * TOKENS_PER_WORD * 2) + 400  # room for JSON, and for a model that overshoots

        draft: Draft | None = None
        response_model = p.model
        for number, fmt in enumerate(FORMATS):
            progress(0.1 + 0.25 * number, f"asking {p.model} ({fmt})")
            try:
                content, finish, response_model = self._ask(client, messages, fmt, max_tokens)
            except FormatRefused as refusal:
                log.info("%s refused response_format %s (%s); trying the next", self.url, fmt, refusal)
                continue
            draft = self._parse(content, fmt, headline, prompt, complete=finish != "length")
            if draft is not None:
                break
            log.info("%s answered %s without usable narration; trying the next format", self.url, fmt)
        if draft is None:
            raise NewsreelError(
                f"the model {p.model} at {self.url} returned no usable narration",
                "try another model (--param model=...) or another provider",
            )

        sentences = _text.fit_budget(draft.sentences, p.words, OVER_BUDGET)
        text = " ".join(sentences)
        title = _text.clean_title(draft.title) or _text.short_title(headline)
        image_prompt = " ".join(_text.strip_emoji(draft.image_prompt).split())
        if image_prompt:
            image_prompt = (
                image_prompt.rstrip(".") + ". Photo-journalistic news photograph, realistic, no text, no letters."
            )
        else:
            image_prompt = _text.image_prompt(headline, text)
        progress(1.0, f"script written ({_text.count_words(text)} words)")
        return _text.make_script(
            headline, sentences, language=p.language, scenes=p.scenes, words_target=p.words,
            model=f"{response_model} via {self.url}", title=title, prompt=image_prompt,
        )

    def _parse(self, content: str, fmt: str, headline: str, prompt: str, complete: bool) -> Draft | None:
        """The answer -> a Draft with clean sentences, or None if nothing usable came back."""
        echoes = [headline, prompt]
        draft: Draft | None = None
        if fmt != "text":
            body = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content.strip())
            try:
                draft = Draft.model_validate(json.loads(body))
            except (ValueError, ValidationError) as exc:
                log.info("the %s answer was not the JSON asked for (%s); reading it as text", fmt, type(exc).__name__)
        if draft is not None:
            sentences = _text.clean_sentences("\n".join(draft.sentences), echoes=echoes, complete=complete)
            draft = draft.model_copy(update={"sentences": sentences}) if sentences else None
        if draft is None:
            sentences = _text.clean_sentences(content, echoes=echoes, complete=complete)
            # JSON that failed validation read as text is mostly braces and keys: not narration.
            if not sentences or (fmt != "text" and content.lstrip().startswith("{")):
                return None
            draft = Draft(title="", sentences=sentences, image_prompt="")
        return draft

    def _ask(self, client: Any, messages: list[dict[str, str]], fmt: str, max_tokens: int) -> tuple[str, str, str]:
        """One chat completion in format `fmt`, retried on transient errors. Returns (content, finish_reason, model)."""
        import openai

        p = self.params
        request: dict[str, Any] = {
            "model": p.model,
            "messages": messages,
            "temperature": p.temperature,
            "seed": p.seed,
            "max_tokens": max_tokens,
        }
        if fmt == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "news_script", "strict": True, "schema": DRAFT_SCHEMA},
            }
        elif fmt == "json_object":
            request["response_format"] = {"type": "json_object"}

        def refused(exc: BaseException) -> bool:
            if fmt == "text" or not isinstance(exc, openai.APIStatusError):
                return False
            if exc.status_code in (400, 415, 422):
                return True
            # llama-cpp-python's server answers an unknown response_format with HTTP 500 "Input should be 'text' or
            # 'json_object'": a refusal, not a failure worth retrying.
            message = str(exc).lower()
            return exc.status_code >= 500 and any(
                w in message for w in ("response_format", "json_object", "json_schema")
            )

        def transient(exc: BaseException) -> bool:
            return not refused(exc) and is_transient(exc)

        try:
            response = self.with_retries(client.chat.completions.create, transient=transient, **request)
        except openai.APIError as exc:
            if refused(exc):
                raise FormatRefused(self._describe(exc)) from None
            raise self._error(exc) from None
        if not response.choices:
            return "", "stop", response.model or p.model
        choice = response.choices[0]
        return choice.message.content or "", choice.finish_reason or "stop", response.model or p.model
