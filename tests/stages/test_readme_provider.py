"""README's "Providers and plugins" example, run as written: its voice file and its test file, in a package of their
own, so the example cannot drift from what the contract suite accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> dict[str, str]:
    """The README's python blocks, by the file their first line names ("# my_package/voice.py", ...)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {m.group(1): block for block in blocks if (m := re.match(r"# (\S+\.py)", block))}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_readme_voice_passes_its_contract_suite(language, tmp_path, monkeypatch):
    blocks = readme_blocks()
    assert {"my_package/voice.py", "tests/test_myvoice.py"} <= set(blocks)
    package = tmp_path / "site" / "my_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "voice.py").write_text(blocks["my_package/voice.py"])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    namespace: dict = {}
    exec(compile(blocks["tests/test_myvoice.py"], "test_myvoice.py", "exec"), namespace)
    (tmp_path / "work").mkdir()
    namespace["test_myvoice_keeps_the_voice_contract"](language, tmp_path / "work")
