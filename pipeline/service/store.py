"""The job store: every job and upload the service knows, in one SQLite file, so a restart loses nothing.

One connection, guarded by a lock (the API's threadpool and the executor's threads share it); WAL mode so a reader
never waits for a writer's fsync. Rows are plain dataclasses; JSON columns hold the request options, the per-stage
progress, notices and the error. The run folder's path is stored but never leaves the server.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stages import STAGES

SCHEMA_VERSION = 1
STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    headline TEXT NOT NULL,
    options TEXT NOT NULL,
    stages TEXT NOT NULL,
    notices TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    out TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, n);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL
);
"""


def new_id() -> str:
    """A job or upload id: 16 lowercase hex digits (64 random bits), safe in URLs and file names."""
    return secrets.token_hex(8)


def fresh_stages() -> dict[str, dict[str, Any]]:
    return {name: {"state": "pending", "fraction": 0.0, "message": "", "hit": None, "seconds": None} for name in STAGES}


@dataclass
class Job:
    id: str
    state: str
    headline: str
    options: dict[str, Any]
    stages: dict[str, dict[str, Any]]
    notices: list[str]
    error: dict[str, str] | None
    files: list[str]
    out: Path
    created: float
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    cancel_requested: bool = False
    pid: int | None = None
    n: int = 0
    position: int | None = None  # place in the queue (1 = next), for queued jobs
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished_state(self) -> bool:
        return self.state in FINISHED


@dataclass
class Upload:
    id: str
    kind: str  # "image" | "audio" | "article"
    type: str  # the sniffed MIME type
    bytes: int
    name: str  # the client's file name, for display only
    path: Path
    created: float


class JobStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- jobs ----------------------------------------------------------------------------------------------------

    def add(self, headline: str, options: dict[str, Any], out_root: Path, notices: list[str], max_queued: int) -> Job | None:
        """Queue a new job; None when `max_queued` jobs are already waiting (checked and inserted atomically)."""
        job_id = new_id()
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (waiting,) = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()
                if waiting >= max_queued:
                    self._db.execute("ROLLBACK")
                    return None
                self._db.execute(
                    "INSERT INTO jobs (id, state, headline, options, stages, notices, out, created) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?)",
                    (job_id, headline, json.dumps(options), json.dumps(fresh_stages()), json.dumps(notices), str(out_root / job_id), now),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            job = _job(row) if row else None
            if job is not None and job.state == "queued":
                (ahead,) = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND n < ?", (job.n,)).fetchone()
                job.position = ahead + 1
        return job

    def list(self, limit: int, offset: int, state: str | None = None) -> tuple[list[Job], int]:
        """Newest first."""
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        with self._lock:
            (total,) = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()
            rows = self._db.execute(f"SELECT * FROM jobs {where} ORDER BY n DESC LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        return [_job(r) for r in rows], total

    def count(self, state: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (state,)).fetchone()[0]

    def claim_next(self) -> Job | None:
        """Move the oldest queued job to running and return it (atomically, so two workers never share a job)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY n LIMIT 1").fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE jobs SET state = 'running', started = ?, attempts = attempts + 1, stages = ?, error = NULL WHERE id = ?",
                (time.time(), json.dumps(fresh_stages()), row["id"]),
            )
            return self.get(row["id"])

    def update(self, job_id: str, **values: Any) -> None:
        cols = []
        args: list[Any] = []
        for key, value in values.items():
            if key in ("options", "stages", "notices", "error", "files"):
                value = None if value is None else json.dumps(value)
            elif key == "out":
                value = str(value)
            elif key == "cancel_requested":
                value = int(bool(value))
            cols.append(f"{key} = ?")
            args.append(value)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {', '.join(cols)} WHERE id = ?", (*args, job_id))

    def cancel_queued(self, job_id: str) -> bool:
        """Cancel a job that has not started; False if it is no longer queued."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = 'cancelled', finished = ?, cancel_requested = 1 WHERE id = ? AND state = 'queued'",
                (time.time(), job_id),
            )
            return cur.rowcount == 1

    def jobs_in_state(self, state: str) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state = ? ORDER BY n", (state,)).fetchall()
        return [_job(r) for r in rows]

    # -- uploads -------------------------------------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?)",
                (upload.id, upload.kind, upload.type, upload.bytes, upload.name, str(upload.path), upload.created),
            )

    def get_upload(self, upload_id: str) -> Upload | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        if row is None:
            return None
        return Upload(row["id"], row["kind"], row["type"], row["bytes"], row["name"], Path(row["path"]), row["created"])


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        state=row["state"],
        headline=row["headline"],
        options=json.loads(row["options"]),
        stages=json.loads(row["stages"]),
        notices=json.loads(row["notices"]),
        error=json.loads(row["error"]) if row["error"] else None,
        files=json.loads(row["files"]),
        out=Path(row["out"]),
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        attempts=row["attempts"],
        cancel_requested=bool(row["cancel_requested"]),
        pid=row["pid"],
        n=row["n"],
    )
