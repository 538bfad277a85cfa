"""`Plans`: the runner plans of a batch's requests, built once per distinct request.

A plan never depends on the headline, so the items of a batch that ask for the same providers and parameters share
one. Validation uses `Plans` to plan (and pre-flight) each distinct request once; the engines use it to keep plans,
and with them the providers and whatever models those have loaded, across items.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..errors import NewsreelError
from ..jobs import MakeOptions
from ..runner import Plan

_PLANS_OK = "plans"  # what validation remembers of a request that plans (not the plan: it may be large)


class Plans:
    """Plans by request (a MakeOptions minus its headline and article), the least recently used dropped beyond `size`.

    keep=False (validation): remembers only whether a request plans, and pre-flights its providers (`check()`: the
    packages, keys and model files they need) the first time. keep=True (a worker, the Ray driver): keeps the plans,
    so providers and anything they cache on themselves are reused. Either way a request that failed to plan fails
    again from memory, with the same error, without planning twice."""

    def __init__(self, config_file: Path | None, size: int = 64, keep: bool = False):
        self.config_file = config_file
        self.size = size
        self.keep = keep
        self.notices: dict[str, None] = {}  # choices made for the user (e.g. image `auto`), once each, in order
        self._seen: OrderedDict[str, Plan | tuple[str, str] | str] = OrderedDict()

    def get(self, options: MakeOptions) -> Plan | None:
        """The request's plan (None when plans are not kept); raises the request's NewsreelError."""
        key = options.model_dump_json(exclude={"headline", "source", "url", "refresh", "public_only"})  # what the plan depends on
        if key in self._seen:
            self._seen.move_to_end(key)
            found = self._seen[key]
            if isinstance(found, tuple):
                raise NewsreelError(*found)
            if isinstance(found, Plan):
                return found
            if found == _PLANS_OK:
                return None
        try:
            plan = options.plan(self.config_file)
            if not self.keep:
                for provider in plan.providers.values():
                    provider.check()  # cheap pre-flight, once per request
        except NewsreelError as exc:
            self._remember(key, (exc.message, exc.hint))
            raise
        for notice in plan.notices:
            if len(self.notices) < 20:
                self.notices[notice] = None
        self._remember(key, plan if self.keep else _PLANS_OK)
        return plan

    def _remember(self, key: str, value: Any) -> None:
        self._seen[key] = value
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
