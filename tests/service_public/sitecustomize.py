"""Test only: stand-ins for the internet in the web service's source tests (tests/test_service_sources.py).

The tests cannot reach the internet, yet the service must be shown fetching from an address it allows, refusing where
a redirect leads from there, and refusing a name that changes its answer between the check and the fetch (DNS
rebinding). Python imports `sitecustomize` from this folder, which only that test's strict server has on its
PYTHONPATH, at the start of each of its processes (the server and its job workers):

- NEWSREEL_TEST_PUBLIC_STANDIN=127.0.0.3: that one address counts as public; every other keeps its real class,
  127.0.0.1 included.
- NEWSREEL_TEST_REBIND_NAME=rebind.test: that name resolves to the stand-in in the server (where the intake checks
  it) and to 127.0.0.1 in a job's worker (where the fetch happens), as a rebinding DNS server would answer.
"""

import ipaddress
import os
import socket
import sys

_STANDIN = os.environ.get("NEWSREEL_TEST_PUBLIC_STANDIN")
_REBIND = os.environ.get("NEWSREEL_TEST_REBIND_NAME")

if _STANDIN:
    from pipeline.sources import safety

    _public = ipaddress.ip_address(_STANDIN)
    _real_classify = safety.classify

    def _classify(address):
        return None if address == _public else _real_classify(address)

    safety.classify = _classify

if _STANDIN and _REBIND:
    _real_getaddrinfo = socket.getaddrinfo

    def _getaddrinfo(host, *args, **kwargs):
        if host == _REBIND:
            in_worker = sys.argv and sys.argv[0].replace("\\", "/").endswith("pipeline/service/worker.py")
            host = "127.0.0.1" if in_worker else _STANDIN
        return _real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = _getaddrinfo
