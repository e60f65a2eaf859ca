import asyncio
import sqlite3
from pathlib import Path

import pytest

from inbox.backup import ATTACHMENTS_DIR, DATABASE_FILE, NoBackupHere, check_backup, copy_database, copy_files
from inbox.db import is_sqlite
from tests.ui.steps import customer_writes


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def sqlite_file(db_url: str) -> Path:
    if not is_sqlite(db_url):
        pytest.skip("the SQLite backup; PostgreSQL is backed up with pg_dump")
    return Path(db_url.split("///", 1)[1])


class TestCopyDatabase:
    async def test_a_backup_taken_while_customers_write_holds_what_was_committed_and_is_whole(
            self, sqlite_file, sessions, ingest_config, tmp_path) -> None:
        for n in range(30):
            await customer_writes(sessions, ingest_config, f"SM-before-{n}", f"+9053300{n:05d}", "Ayşe", "merhaba")
        target = tmp_path / "backup" / DATABASE_FILE
        copying = asyncio.create_task(asyncio.to_thread(copy_database, sqlite_file, target))
        n = 0
        while not copying.done():  # messages keep arriving through the app's own engine meanwhile
            await customer_writes(sessions, ingest_config, f"SM-during-{n}", "+905330000001", "Ayşe", "hâlâ yazıyorum")
            n += 1
            await asyncio.sleep(0)
        pages = await copying
        assert pages > 0
        check_backup(target.parent, database=True)
        kept = _count(target, "message")
        assert _count(sqlite_file, "message") >= kept >= 60  # 30 customers: a case line and a message each

    async def test_restoring_puts_the_rows_back_in_a_new_data_folder(self, sqlite_file, sessions, ingest_config,
                                                                     tmp_path) -> None:
        await customer_writes(sessions, ingest_config, "SM-1", "+905330000001", "Şule Çelik", "Kargom nerede?")
        copy_database(sqlite_file, tmp_path / "backup" / DATABASE_FILE)
        restored = tmp_path / "new" / "data" / "onethread.db"
        copy_database(tmp_path / "backup" / DATABASE_FILE, restored)
        with sqlite3.connect(restored) as connection:
            assert connection.execute("SELECT name FROM customer").fetchall() == [("Şule Çelik",)]
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


class TestCopyFiles:
    async def test_a_second_backup_into_the_same_folder_copies_only_new_files(self, file_store, tmp_path) -> None:
        first = file_store.put(b"fatura.pdf bytes")
        target = tmp_path / "backup" / ATTACHMENTS_DIR
        assert copy_files(file_store.root, target) == (1, 0)
        second = file_store.put(b"kargo etiketi")
        (file_store.root / "ab").mkdir(exist_ok=True)
        (file_store.root / "ab" / "tmp1234").write_bytes(b"a write in progress")
        assert copy_files(file_store.root, target) == (1, 1)
        for digest in (first, second):
            assert (target / digest[:2] / digest[2:4] / digest).read_bytes() == file_store.read(digest)
        assert not list(target.rglob("tmp*"))


class TestCheckBackup:
    async def test_a_folder_without_a_backup_is_refused_with_the_reason(self, tmp_path) -> None:
        with pytest.raises(NoBackupHere, match=r"no onethread\.db"):
            check_backup(tmp_path, database=True)
        (tmp_path / DATABASE_FILE).write_bytes(b"not a database at all, just bytes" * 200)
        with pytest.raises(NoBackupHere, match="damaged: file is not a database"):
            check_backup(tmp_path, database=True)
