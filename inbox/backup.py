"""Backups of the embedded database and the attachment store, taken while the server runs.

SQLite's online backup API copies a consistent snapshot page by page while other connections go
on writing (a copy of the file could catch a half-written WAL). Attachments are content-addressed
(inbox.files), so a file already in the backup never needs copying again: later backups into the
same folder copy only what is new. PostgreSQL has its own tools (pg_dump), which this does not
pretend to be.
"""

import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

DATABASE_FILE = "onethread.db"
ATTACHMENTS_DIR = "attachments"
# Pages per step: small enough that writers are held up for milliseconds, not the whole copy.
_PAGES_PER_STEP = 1024

# The store's file names; anything else there is a write in progress (inbox.files writes a temporary first).
_STORED_NAME = re.compile(r"[0-9a-f]{64}")

# (done, total) as the copy goes.
Progress = Callable[[int, int], None]


class NoBackupHere(Exception):
    """The folder holds no onethread backup."""


def copy_database(source: Path, target: Path, *, progress: Progress | None = None) -> int:
    """Copy one SQLite database onto another (made if missing) through the backup API; returns the page count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    total = 0

    def step(_status: int, remaining: int, pages: int) -> None:
        nonlocal total
        total = pages
        if progress is not None:
            progress(pages - remaining, pages)

    with closing(_connect(source)) as reading, closing(_connect(target)) as writing:
        reading.backup(writing, pages=_PAGES_PER_STEP, progress=step)
        # The copy inherits the source's journal mode; the server wants WAL, as its own file has.
        writing.execute("PRAGMA journal_mode=WAL")
    return total


def copy_files(source: Path, target: Path, *, progress: Progress | None = None) -> tuple[int, int]:
    """Copy the attachment store's files not yet in `target`; returns (copied, already there)."""
    files = sorted(_files(source)) if source.is_dir() else []
    copied = kept = 0
    for done, file in enumerate(files, start=1):
        destination = target / file.relative_to(source)
        # Named by their sha256: a file of that name and size is that file.
        if destination.exists() and destination.stat().st_size == file.stat().st_size:
            kept += 1
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".copying")
            shutil.copyfile(file, partial)
            partial.replace(destination)  # never a half-copied file under the final name
            copied += 1
        if progress is not None:
            progress(done, len(files))
    return copied, kept


def check_backup(folder: Path, *, database: bool) -> None:
    if not folder.is_dir() or (database and not (folder / DATABASE_FILE).is_file()) or (
            not database and not (folder / ATTACHMENTS_DIR).is_dir()):
        raise NoBackupHere(f"{folder} holds no onethread backup"
                           + (f" (no {DATABASE_FILE})" if database else f" (no {ATTACHMENTS_DIR}/)"))
    if database:
        try:
            with closing(_connect(folder / DATABASE_FILE)) as opened:
                verdict = opened.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            verdict = str(error)
        if verdict != "ok":
            raise NoBackupHere(f"{folder / DATABASE_FILE} is damaged: {verdict}")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)


def _files(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file() and _STORED_NAME.fullmatch(path.name))
