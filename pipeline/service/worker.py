"""One job, in a process of its own: `python -m pipeline.service.worker`, started by the service's executor.

Protocol: the first line on stdin is the job as JSON ({"options": MakeOptions fields, "out": run folder, "config":
a newsreel.toml or null, "private": which addresses a URL's fetch may reach, "article": the uploaded article's stored
file and display name, or absent}). Messages go back as JSON lines on the process's original stdout: {"type":
"notice"}, {"type": "headline"} (the article's title, when the job had none), {"type": "event", ...Event}, then
exactly one of {"type": "done"}, {"type": "error"} or {"type": "cancelled"}.

A URL is fetched here, not in the server, with the fetch cache; `private` defaults to "refuse": public addresses
only, checked on every redirect and against the address actually connected to (DNS rebinding). The command line's
exemption for a private host the user typed is never extended to a client.
Anything else a library prints goes to stderr (the job's log), never into the protocol.

Cancelling: a "cancel" line on stdin, or stdin closing (the server went away), makes the next progress event raise,
which unwinds the run (ffmpeg is killed, the cache's temp folder removed). SIGTERM does the same at once, for work
that sends no events for a while.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any


class Cancelled(BaseException):
    """Raised inside the run to stop it; a BaseException so a provider's `except Exception` does not swallow it."""


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # stray prints (libraries, native code) land in the log, not in the protocol
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with lock:
            protocol.write(json.dumps(message, ensure_ascii=False) + "\n")
            protocol.flush()

    line = sys.stdin.readline()
    if not line:
        return 1
    spec = json.loads(line)
    cancel = threading.Event()

    def watch_stdin() -> None:
        for command in sys.stdin:
            if command.strip() == "cancel":
                break
        cancel.set()  # "cancel", or EOF: the server is gone

    threading.Thread(target=watch_stdin, daemon=True).start()

    def on_term(signum, frame) -> None:
        cancel.set()
        raise Cancelled()

    signal.signal(signal.SIGTERM, on_term)

    try:
        from ..errors import NewsreelError
        from ..jobs import MakeOptions
        from ..runner import Event, run

        def on_event(event: Event) -> None:
            if cancel.is_set():
                raise Cancelled()
            send({"type": "event", **event.model_dump(mode="json")})

        try:
            from ..sources import resolve_options

            data = dict(spec["options"])
            given = data.get("headline")
            if spec.get("article"):  # read from the service's own upload folder (the intake checked the ref)
                from .uploads import UploadProblem, read_uploaded_article

                try:
                    data["source"] = read_uploaded_article(Path(spec["article"]["path"]), spec["article"]["name"])
                except UploadProblem as exc:
                    raise NewsreelError(exc.message, exc.hint) from None
            options = MakeOptions.parse(data)
            config = Path(spec["config"]) if spec.get("config") else None
            plan = options.plan(config)
            private = spec.get("private") if spec.get("private") in ("refuse", "allow") else "refuse"
            options = resolve_options(options, plan.settings.cache_dir, private=private)
            if options.headline != given and options.headline:
                send({"type": "headline", "headline": options.headline})
            for notice in plan.notices:
                send({"type": "notice", "message": notice})
            result = run(
                options.headline, plan, Path(spec["out"]), force=options.force, no_cache=options.no_cache,
                on_event=on_event, source=options.source,
            )
        except NewsreelError as exc:
            if cancel.is_set():
                raise Cancelled() from None
            send({"type": "error", "message": exc.message, "hint": exc.hint})
            return 2
        except Exception as exc:  # noqa: BLE001 - a bug or an unexpected failure: the traceback goes to the log only
            if cancel.is_set():
                raise Cancelled() from None
            traceback.print_exc()
            text = " ".join(str(exc).split())[:300]
            send({"type": "error", "message": f"the job failed unexpectedly: {type(exc).__name__}: {text}", "hint": "see the job's log in the service's data folder; report it if it keeps happening"})
            return 1
        send({"type": "done", "files": result.record["files"], "seconds": result.record["seconds"]})
        return 0
    except Cancelled:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        send({"type": "cancelled"})
        return 3


if __name__ == "__main__":
    sys.exit(main())
