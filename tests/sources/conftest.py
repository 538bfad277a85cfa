from __future__ import annotations

import pytest

from tests.sources.article_server import serve


@pytest.fixture(scope="module")
def site():
    """The sample news site on 127.0.0.1 (tests/sources/article_server.py)."""
    with serve() as running:
        yield running
