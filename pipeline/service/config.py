"""How the service is set up: where it keeps jobs, how many run at once, the limits, and the access token."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..errors import NewsreelError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
MIN_TOKEN_CHARS = 16


def default_data_dir() -> Path:
    return platformdirs.user_data_path("newsreel")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceConfig(BaseModel):
    """Everything `newsreel serve` decides before it starts; the app, store and executor read only this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)  # service.sqlite3, uploads/, logs/
    runs_dir: Path | None = None  # run folders (default: data_dir/runs); never chosen by a client
    config_file: Path | None = None  # a newsreel.toml for every job, like `make --config`
    token: SecretStr | None = None  # required when binding a non-loopback address
    max_running: int = Field(1, ge=1, le=64)
    max_queued: int = Field(50, ge=1, le=100_000)
    max_body_bytes: int = Field(64 * 1024, ge=1024)  # JSON and form bodies
    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_audio_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=1)  # about 8000 x 5000
    max_article_bytes: int = Field(5 * 1024 * 1024, ge=1024)  # an uploaded article (text, Markdown or HTML)
    resume: bool = True  # jobs that were running when the server stopped: run again (True) or mark failed
    max_attempts: int = Field(3, ge=1)  # a job that was interrupted this often is failed, not resumed again
    cancel_grace_s: float = Field(3.0, ge=0)  # cooperative cancel, then SIGTERM; SIGKILL after 3x that
    # Clients may name files, folders or addresses on this machine in provider parameters (a model folder, a
    # logo, an API base URL): off, since they could read the server's files or send its API key elsewhere.
    allow_server_paths: bool = False
    # A client's article URL may lead to loopback, private or link-local addresses (this machine, its network): off,
    # since the service would fetch the router's admin page or a database's HTTP port and read it into a video.
    # Cloud metadata addresses stay refused even when on (pipeline/sources/safety.py).
    allow_private_urls: bool = False

    @property
    def db_path(self) -> Path:
        return self.data_dir / "service.sqlite3"

    @property
    def run_root(self) -> Path:
        return self.runs_dir or self.data_dir / "runs"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def max_upload_bytes(self) -> int:
        return max(self.max_image_bytes, self.max_audio_bytes, self.max_article_bytes)

    def check(self) -> None:
        """Refuse an unsafe setup before binding anything."""
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise NewsreelError(
                f"the access token is shorter than {MIN_TOKEN_CHARS} characters",
                'use a long random one, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"',
            )
        if not self.loopback and self.token is None:
            raise NewsreelError(
                f"binding {self.host} makes the service reachable from other machines, so it needs an access token",
                "pass --token-file FILE (a file holding a long random token), or bind 127.0.0.1",
            )


def read_token(token: str | None, token_file: Path | None, settings_token: SecretStr | None = None) -> SecretStr | None:
    """The access token from --token, --token-file or the settings (first given wins); None when there is none."""
    if token:
        return SecretStr(token.strip())
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise NewsreelError(f"cannot read the token file {token_file}: {exc.strerror}", "check the path given to --token-file") from None
        if not text:
            raise NewsreelError(f"the token file {token_file} is empty", "write a long random token into it")
        return SecretStr(text)
    return settings_token
