"""What the soak tests measured, kept where a person (or docs/reliability.md) can read it after the run."""

import json
import os
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "reliability"


def record(name: str, line: str) -> None:
    database = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{database}.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    found[name] = line
    path.write_text(json.dumps(found, indent=2, ensure_ascii=False))
    print(f"{name} ({database}): {line}")
