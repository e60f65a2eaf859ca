#!/usr/bin/env python3
"""The two commands, on a machine with nothing but python3:

    python3 run.py demo    start onethread with demo data on SQLite (http://127.0.0.1:8000)
    python3 run.py test    run every test

Anything after the command is passed on (e.g. `python3 run.py test -k merge`, `python3 run.py demo --port 9000`).
The first run makes .venv and installs onethread into it; later runs reinstall only when pyproject.toml changes.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".onethread-installed"


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("making .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing onethread and its dependencies into .venv …", flush=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    ensure_venv()
    os.chdir(ROOT)
    if command == "demo":
        argv = [str(BIN / "onethread"), "serve", "--demo", *rest]
    else:
        argv = [str(BIN / "python"), "-m", "pytest", *rest]
    os.execv(argv[0], argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
