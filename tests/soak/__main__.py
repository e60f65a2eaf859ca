"""python -m tests.soak: the long soak by hand (see tests/soak/crash.py)."""

import argparse
import asyncio
import os
import uuid

from inbox.migrate import upgrade
from tests.soak.crash import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--webhooks", type=int, default=10_000)
parser.add_argument("--kills", type=int, default=3)
parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                    help="a database the migrations made (default: a new SQLite file)")
args = parser.parse_args()
url = args.database_url
if not url:
    import tempfile

    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='onethread-soak-')}/onethread.db"
upgrade(url)
figures = asyncio.run(run(url, webhooks=args.webhooks, kills=args.kills, run_id=uuid.uuid4().hex[:6]))
print(f"webhooks under kill -9: {figures.line()}")
raise SystemExit(0 if figures.lost == figures.duplicated == 0 else 1)
