"""`python -m bench` runs from a clean clone: a smoke run of the whole suite at its smallest."""

import subprocess
import sys

import pytest

from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="once per CI run, in the SQLite pass")


def test_the_whole_suite_runs_and_prints_every_figure_with_its_baseline() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-postgres", "--no-write"],
                          capture_output=True, text=True, timeout=600, env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    for figure in ("GET /inbox?view=", "GET /inbox/threads/{id}", "GET /search", "resident memory", "cold start",
                   "signed WhatsApp webhooks", "webhook → agent websocket"):
        assert figure in done.stdout, figure
    assert "Client ceilings:" in done.stdout and "bare FastAPI" in done.stdout


def test_the_batch_cost_bench_prints_a_figure_per_batch_size() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.batches", "--sizes", "1,4", "--batches", "5", "--no-postgres"],
                          capture_output=True, text=True, timeout=300, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.strip().startswith("│") and "SQLite" in line]
    # One row per size: its batch size, then CPU and wall time per batch, and CPU per message.
    assert [line.split("│")[2].strip() for line in rows] == ["1", "4"]
    assert all(float(line.split("│")[3]) > 0 for line in rows)
