"""The append-only result store of an audit campaign: ``DIR/campaign.sqlite``.

One SQLite database per campaign folder, written by the campaign's parent process
only (workers never touch it), in WAL mode with ``synchronous=FULL``:

* ``campaign`` — one row: the campaign's name, the hash of the config it was
  created with, when;
* ``runs`` — one row per start of the campaign (the config and its hash, how many
  queries, how many were already done, workers, scheduler, host, pid), and
  ``run_ends`` — one row per run that ended (``completed``, ``interrupted`` or
  ``failed``); a run killed with ``kill -9`` has no end row;
* ``results`` — one row per answered query: ``key`` is the PRIMARY KEY (the
  query's stable identity, :mod:`verisnn.campaign`), then the query's fields,
  the verdict, timings, the answer as JSON, the certificate path and the worker.

Rows are only ever inserted: triggers abort any ``UPDATE`` or ``DELETE`` of every
table, and the primary key refuses a second row for a key. Each result is
inserted in its own transaction as it arrives, so a kill at any moment leaves
every result stored before it intact (see ``docs/audit.md`` for the guarantee).

A lock file (``DIR/campaign.lock``, ``flock``) keeps two campaigns from writing
one folder at once; the kernel releases it when its holder dies, even by ``kill -9``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from .errors import InputError

STORE_FORMAT = "verisnn.campaign-store/1"
DB_NAME = "campaign.sqlite"
LOCK_NAME = "campaign.lock"
VERDICTS = ("verified", "falsified", "unknown", "error", "done")  # "done": a completed extraction task
KINDS = ("verify", "extract")
RUN_STATUSES = ("completed", "interrupted", "failed")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS campaign (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    store_format TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    config TEXT NOT NULL,
    queries INTEGER NOT NULL,
    already_done INTEGER NOT NULL,
    workers INTEGER,
    scheduler TEXT,
    verisnn_version TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_ends (
    run_id INTEGER PRIMARY KEY REFERENCES runs(run_id),
    ended_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({", ".join(f"'{s}'" for s in RUN_STATUSES)})),
    stored INTEGER NOT NULL,
    message TEXT
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ({", ".join(f"'{k}'" for k in KINDS)})),
    model_sha256 TEXT NOT NULL,
    input_index INTEGER,
    label INTEGER,
    input_sha256 TEXT,
    property_name TEXT,
    property TEXT,
    extraction TEXT,
    method TEXT NOT NULL,
    timeout_s REAL,
    verdict TEXT NOT NULL CHECK (verdict IN ({", ".join(f"'{v}'" for v in VERDICTS)})),
    result_method TEXT,
    reason TEXT,
    time_s REAL,
    result TEXT NOT NULL,
    certificate TEXT,
    certificate_sha256 TEXT,
    worker TEXT,
    started_at TEXT,
    finished_at TEXT,
    stored_at TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id)
);
"""
_APPEND_ONLY = ("campaign", "runs", "run_ends", "results")
RESULT_COLUMNS = ("key", "kind", "model_sha256", "input_index", "label", "input_sha256", "property_name", "property",
                  "extraction", "method", "timeout_s", "verdict", "result_method", "reason", "time_s", "result",
                  "certificate", "certificate_sha256", "worker", "started_at", "finished_at", "stored_at", "run_id")
_JSON_COLUMNS = ("property", "extraction", "result")


def now() -> str:
    """The current time, UTC, ISO 8601 with microseconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


class StoreError(InputError):
    """A campaign folder that cannot hold this campaign (locked, another campaign, not a
    store) or a store that cannot be used (the disk is full, read-only, damaged)."""


def _cause(e: sqlite3.Error) -> str:
    """What an SQLite error means for the user, and what to do."""
    text = str(e)
    if "full" in text:
        return f"the disk is full ({text}): free some space and run again; the results stored so far are kept"
    if "readonly" in text or "read-only" in text:
        return (f"the campaign store cannot be written: a read-only file or file system ({text}); give a writable "
                f"--out (a copy of this folder resumes where it stopped)")
    if "malformed" in text or "not a database" in text or "encrypted" in text:
        return (f"the campaign store is damaged ({text}): restore campaign.sqlite from a copy, or give a new --out "
                f"(the campaign then runs again)")
    if "locked" in text or "busy" in text:
        return f"the campaign store is in use by another program ({text})"
    return f"the campaign store failed: {type(e).__name__}: {text}"


@contextlib.contextmanager
def _translated(path: Path):
    """SQLite errors as :class:`StoreError` naming the cause; a key stored twice stays an
    ``sqlite3.IntegrityError`` (a defect of the caller, not of the store)."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as e:
        raise StoreError(_cause(e), str(path)) from None


class Store:
    """The result store of the campaign in folder ``out_dir`` (created if missing).

    ``writable=True`` (the default) takes the folder's lock for as long as the store
    is open; use it as a context manager. ``writable=False`` opens the database
    read-only (for reports), without the lock."""

    def __init__(self, out_dir: str | Path, *, writable: bool = True):
        self.dir = Path(out_dir)
        self.path = self.dir / DB_NAME
        self.writable = writable
        self._lock_fd: int | None = None
        if writable:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the campaign folder: {e.strerror}", str(self.dir)) from None
            self._lock()
            try:
                with _translated(self.path):
                    self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; explicit BEGIN per insert
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA synchronous=FULL")  # a committed result survives a power loss too
                    self.db.execute("PRAGMA foreign_keys=ON")
                    self._create()
            except BaseException:
                self._unlock()
                raise
        else:
            if not self.path.is_file():
                raise StoreError("no campaign store here (campaign.sqlite is missing)", str(self.dir))
            with _translated(self.path):
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        self.db.row_factory = sqlite3.Row

    # ------------------------------------------------------------------ setup

    def _lock(self) -> None:
        try:
            fd = os.open(self.dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # a read-only file system, a folder without write permission
            raise StoreError(f"cannot write to the campaign folder ({e.strerror}): give a writable --out",
                             str(self.dir)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError("another campaign is writing to this folder (its lock is held)", str(self.dir)) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _create(self) -> None:
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            for table in _APPEND_ONLY:
                for op in ("UPDATE", "DELETE"):
                    self.db.execute(f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")

    @contextlib.contextmanager
    def _transaction(self):
        """One transaction, committed at the end; on any failure rolled back (when SQLite
        has not already done so itself, as after a full disk) and the failure named."""
        with _translated(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the original failure is the one to report
                        self.db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.db.close()
        self._unlock()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """One INSERT in its own transaction, committed before returning."""
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._transaction():
            cur = self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))
        return cur.lastrowid

    # ------------------------------------------------------------------ campaign and runs

    def campaign(self) -> dict | None:
        with _translated(self.path):
            row = self.db.execute("SELECT * FROM campaign").fetchone()
        return dict(row) if row else None

    def ensure_campaign(self, name: str, config_sha256: str) -> dict:
        """The campaign row: created on first use; a folder that holds a campaign of
        another name is refused (a different campaign pointed at the wrong folder)."""
        existing = self.campaign()
        if existing is None:
            self._insert("campaign", {"id": 1, "name": name, "config_sha256": config_sha256,
                                      "store_format": STORE_FORMAT, "created_at": now()})
            return self.campaign()
        if existing["store_format"] != STORE_FORMAT:
            raise StoreError(f"the store has format {existing['store_format']!r}; this verisnn reads "
                             f"{STORE_FORMAT!r}", str(self.path))
        if existing["name"] != name:
            raise StoreError(f"this folder holds campaign {existing['name']!r}, not {name!r}: give another --out",
                             str(self.dir))
        return existing

    def begin_run(self, *, config: dict, config_sha256: str, queries: int, already_done: int,
                  workers: int | None, scheduler: str | None, version: str) -> int:
        return self._insert("runs", {"started_at": now(), "config_sha256": config_sha256,
                                     "config": json.dumps(config, sort_keys=True), "queries": queries,
                                     "already_done": already_done, "workers": workers, "scheduler": scheduler,
                                     "verisnn_version": version, "host": socket.gethostname(), "pid": os.getpid()})

    def end_run(self, run_id: int, status: str, stored: int, message: str | None = None) -> None:
        self._insert("run_ends", {"run_id": run_id, "ended_at": now(), "status": status, "stored": stored,
                                  "message": message})

    def runs(self) -> list[dict]:
        with _translated(self.path):
            return [dict(r) for r in self.db.execute(
                "SELECT runs.*, run_ends.ended_at, run_ends.status, run_ends.stored, run_ends.message "
                "FROM runs LEFT JOIN run_ends USING (run_id) ORDER BY run_id")]

    # ------------------------------------------------------------------ results

    def done_keys(self) -> set[str]:
        with _translated(self.path):
            return {r[0] for r in self.db.execute("SELECT key FROM results")}

    def add(self, row: dict[str, Any]) -> None:
        """Insert one result row (its own committed transaction). ``property``,
        ``extraction`` and ``result`` are JSON-encoded here; ``stored_at`` is set here.
        A key already stored raises ``sqlite3.IntegrityError``: nothing is stored twice."""
        missing = set(RESULT_COLUMNS) - set(row) - {"stored_at"}
        if missing:
            raise ValueError(f"result row lacks {sorted(missing)}")  # a programming error
        values = {c: row[c] for c in RESULT_COLUMNS if c != "stored_at"}
        for c in _JSON_COLUMNS:
            if values[c] is not None:
                values[c] = json.dumps(values[c], sort_keys=True, allow_nan=False)
        values["stored_at"] = now()
        self._insert("results", values)

    def rows(self, keys: Iterable[str] | None = None) -> list[dict]:
        """Stored result rows in insertion order (all, or those of ``keys``), JSON columns decoded."""
        out = []
        wanted = None if keys is None else set(keys)
        with _translated(self.path):
            for r in self.db.execute("SELECT * FROM results ORDER BY rowid"):
                if wanted is not None and r["key"] not in wanted:
                    continue
                d = dict(r)
                for c in _JSON_COLUMNS:
                    if d[c] is not None:
                        d[c] = json.loads(d[c])
                out.append(d)
        return out
