"""The web service: `newsreel serve` runs a FastAPI app (the page and the JSON API) under uvicorn.

- `app.create_app(ServiceConfig)` builds the application (used by tests and by `serve`).
- `store.JobStore`: jobs and uploads in SQLite (data_dir/service.sqlite3); nothing is lost across restarts.
- `executor.Executor`: runs at most `max_running` jobs at once, each in its own worker process
  (`python -m pipeline.service.worker`), and streams their progress to the page through `executor.Hub`.

FastAPI, uvicorn and python-multipart come with the `serve` extra; nothing here is imported by the other commands.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import NewsreelError
from .config import ServiceConfig, read_token

__all__ = ["ServiceConfig", "read_token", "serve", "settings_allow_private_urls", "settings_token"]


def settings_token(config_file: Path | None):
    """The access token from newsreel.toml / NEWSREEL_* settings (field `service_token`), if the settings have it."""
    from ..config import load_settings

    try:
        return getattr(load_settings(config_file), "service_token", None)
    except NewsreelError:
        return None


def settings_allow_private_urls(config_file: Path | None) -> bool:
    """Whether newsreel.toml / NEWSREEL_* settings let clients' URLs reach private addresses
    (`service_allow_private_urls`, the setting behind --allow-private-urls)."""
    from ..config import load_settings

    try:
        return bool(getattr(load_settings(config_file), "service_allow_private_urls", False))
    except NewsreelError:
        return False


def serve(config: ServiceConfig, log_level: str = "info") -> None:
    """Run the service until interrupted (Ctrl-C). Jobs still running then resume on the next start."""
    import importlib.util

    wanted = {"fastapi": ("fastapi",), "uvicorn": ("uvicorn",), "python-multipart": ("python_multipart", "multipart")}
    missing = [name for name, modules in wanted.items() if not any(importlib.util.find_spec(m) for m in modules)]
    if missing:
        raise NewsreelError(f"the web service needs packages that are not installed: {', '.join(missing)}", "pip install 'newsreel[serve]'")
    import uvicorn

    config.check()
    from .app import create_app

    app = create_app(config)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,  # no proxy is trusted to say who the client is
        timeout_graceful_shutdown=3,  # open event streams must not hold a shutdown
    )
