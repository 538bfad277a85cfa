"""Editing a prompt template changes the script stage's cache key for every built-in script provider."""

from __future__ import annotations

import shutil

import pytest

from pipeline import assets
from pipeline.plugins import provider_class
from pipeline.providers.script import _text

PARAMS = {"local": {}, "openai": {}, "text": {"text": "The rover found layered rock. Scientists say a lake stood here."}}


@pytest.mark.parametrize("name", sorted(PARAMS))
@pytest.mark.parametrize("template", _text.PROMPT_TEMPLATES)
def test_editing_a_prompt_template_changes_the_key(tmp_path, monkeypatch, name, template):
    copy = tmp_path / "templates"
    shutil.copytree(assets.TEMPLATES_DIR, copy)
    monkeypatch.setattr(assets, "TEMPLATES_DIR", copy)
    provider = provider_class("script", name)(PARAMS[name])
    before = provider.key_params()
    assert before == provider_class("script", name)(PARAMS[name]).key_params()  # stable
    (copy / template).write_text((copy / template).read_text() + "\n{# edited #}\n")
    after = provider.key_params()
    assert after["templates_sha256"] != before["templates_sha256"]
    assert {k: v for k, v in after.items() if k != "templates_sha256"} == {
        k: v for k, v in before.items() if k != "templates_sha256"
    }
