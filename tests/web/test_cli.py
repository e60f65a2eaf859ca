"""The installed `onethread` command, run as a person would run it: a separate process per call."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, running

_SCRIPT = Path(sys.executable).with_name("onethread")
# The console script pyproject.toml installs; the module itself when the package was not installed.
ONETHREAD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "web.cli"]
STARTUP_SECONDS = 60


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env["DATA_DIR"] = str(data_dir)
    # Wide enough that click's framed error messages are not wrapped mid-phrase.
    env["COLUMNS"] = "200"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    # On SQLite, db_url is DATA_DIR's own database file, already migrated.
    return _env(tmp_path / "data", db_url)


def onethread(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # cwd: a directory without a .env, so the developer's own settings stay out of the test.
    return subprocess.run([*ONETHREAD, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestMigrate:
    def test_migrate_makes_the_data_dir_and_the_schema(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "new" / "data"
        done = onethread("migrate", env=_env(data_dir, TEST_DATABASE_URL or None), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "up to date" in done.stdout
        assert data_dir.is_dir()
        if not TEST_DATABASE_URL:
            assert (data_dir / "onethread.db").stat().st_size > 0


class TestCreateUser:
    def test_the_same_email_twice_is_refused_with_a_message(self, cli_env, tmp_path) -> None:
        first = onethread("create-user", "--email", "ayse@shop.example", "--role", "agent", "--name", "Ayşe Yılmaz",
                          "--password", "correct horse", env=cli_env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        again = onethread("create-user", "--email", "AYSE@shop.example", "--password", "another one",
                          env=cli_env, cwd=tmp_path)
        assert again.returncode == 1
        assert "a user with email ayse@shop.example exists" in again.stderr
        assert "Traceback" not in again.stderr

    def test_an_unknown_role_is_refused_naming_the_roles(self, cli_env, tmp_path) -> None:
        done = onethread("create-user", "--email", "x@shop.example", "--role", "boss", "--password", "correct horse",
                         env=cli_env, cwd=tmp_path)
        assert done.returncode != 0
        assert "Invalid value for '--role'" in done.stderr and "'admin', 'agent', 'store'" in done.stderr
        assert "Traceback" not in done.stderr


class TestCreateToken:
    def test_the_printed_token_opens_the_api_of_a_running_server(self, cli_env, tmp_path) -> None:
        issued = onethread("create-token", "--name", "shopify-sync", env=cli_env, cwd=tmp_path)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip().splitlines()[-1]
        port = _free_port()
        server = subprocess.Popen([*ONETHREAD, "serve", "--port", str(port)], env=cli_env, cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_healthy(base, server)
            with httpx.Client(base_url=base) as client:
                unknown = client.get("/api/v1/customers/1", headers={"Authorization": f"Bearer {token}"})
                anonymous = client.get("/api/v1/customers/1")
            assert (unknown.status_code, anonymous.status_code) == (404, 401)
        finally:
            server.send_signal(signal.SIGTERM)
            _, log = server.communicate(timeout=60)
        assert "Application shutdown complete" in log
        assert server.returncode in (0, -signal.SIGTERM)


class TestDemo:
    def test_demo_seeds_the_shop_and_prints_the_sign_in(self, cli_env, tmp_path) -> None:
        done = onethread("demo", env=cli_env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Seeded the demo shop: 50 customers" in done.stdout
        assert "admin@demo.onethread" in done.stdout and "demo-password" in done.stdout
        assert "http://127.0.0.1:8000" in done.stdout


def _wait_until_healthy(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode}: {server.communicate()[1]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer /healthz within {STARTUP_SECONDS} s")


class TestChannelsCheck:
    async def test_names_the_account_and_fails_on_refused_credentials(self, tmp_path: Path) -> None:
        async with running() as twilio:
            env = {**_env(tmp_path / "data", None), "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                   "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "TWILIO_API_BASE_URL": twilio.base_url}
            good = await _run_async(["channels", "check"], env=env, cwd=tmp_path)
            wrong = await _run_async(["channels", "check"], env={**env, "TWILIO_AUTH_TOKEN": "0" * 32}, cwd=tmp_path)
        assert good.returncode == 0, good.stderr
        assert "✓ whatsapp: Twilio account 'Demo shop' (active), sending from whatsapp:+14155550100" in good.stdout
        assert wrong.returncode == 1
        assert "✗ whatsapp: Twilio refused: 20003" in wrong.stdout
        assert "0" * 32 not in wrong.stdout + wrong.stderr


async def _run_async(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Not subprocess.run: the fake provider answers from this test's event loop meanwhile.
    process = await asyncio.create_subprocess_exec(*ONETHREAD, *args, env=env, cwd=cwd,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return subprocess.CompletedProcess(args, process.returncode or 0, out.decode(), err.decode())


class TestBackupAndRestore:
    def test_a_backup_restored_into_a_new_data_folder_brings_the_shop_back(self, cli_env, tmp_path) -> None:
        seeded = onethread("demo", env=cli_env, cwd=tmp_path)
        assert seeded.returncode == 0, seeded.stderr
        taken = onethread("backup", str(tmp_path / "backup"), env=cli_env, cwd=tmp_path)
        assert taken.returncode == 0, taken.stderr
        assert "Attachments:" in taken.stdout
        fresh = {**cli_env, "DATA_DIR": str(tmp_path / "fresh" / "data")}
        if TEST_DATABASE_URL:
            # The PostgreSQL database is pg_dump's to copy; the command says so and copies the files.
            assert "pg_dump --format=custom" in taken.stdout and "postgres@" in taken.stdout
            return
        fresh.pop("DATABASE_URL")
        restored = onethread("restore", str(tmp_path / "backup"), "--yes", env=fresh, cwd=tmp_path)
        assert restored.returncode == 0, restored.stderr
        again = onethread("demo", env=fresh, cwd=tmp_path)
        assert "already seeded" in again.stdout

    def test_restoring_from_a_folder_without_a_backup_says_so(self, cli_env, tmp_path) -> None:
        done = onethread("restore", str(tmp_path / "nothing-here"), "--yes", env=cli_env, cwd=tmp_path)
        assert done.returncode == 1
        assert "holds no onethread backup" in done.stderr and "Traceback" not in done.stderr
