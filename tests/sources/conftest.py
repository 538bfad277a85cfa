from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.sources.article_server import serve


@pytest.fixture(scope="module")
def site():
    """The sample news site on 127.0.0.1 (tests/sources/article_server.py)."""
    with serve() as running:
        yield running


@pytest.fixture
def cli(test_plugin, isolated_config):
    """`newsreel ARGS` in a child process running this checkout (with the test plugin's providers), wide output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, env=env,
                              timeout=120)

    return run
