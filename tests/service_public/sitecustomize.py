"""Test only: one loopback address stands in for a public news site, for the web service's source tests.

The tests cannot reach the internet, yet the service must be shown fetching from an address it allows and refusing
where a redirect leads from there. With NEWSREEL_TEST_PUBLIC_STANDIN=127.0.0.3 in the environment, every process of
that test server (the server and its job workers; Python imports `sitecustomize` from this folder on PYTHONPATH at
start) treats that one address as public; every other address keeps its real class, 127.0.0.1 included. Nothing
outside tests/test_service_sources.py puts this folder on a path.
"""

import ipaddress
import os

_STANDIN = os.environ.get("NEWSREEL_TEST_PUBLIC_STANDIN")
if _STANDIN:
    from pipeline.sources import safety

    _public = ipaddress.ip_address(_STANDIN)
    _real_classify = safety.classify

    def _classify(address):
        return None if address == _public else _real_classify(address)

    safety.classify = _classify
