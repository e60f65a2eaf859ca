"""The domain knows nothing of HTTP or of any provider; adapters know nothing of the web app."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each layer must never import: the direction of every dependency in one table.
FORBIDDEN = {
    "inbox": {"web", "adapters", "fastapi", "starlette", "httpx", "aiohttp", "twilio", "telegram", "aiosmtplib",
              "aiosmtpd", "websockets", "jinja2", "uvicorn", "typer"},
    "adapters": {"web", "fastapi", "starlette", "jinja2", "uvicorn"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    offences = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[layer])
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {path: names for path, names in offences.items() if names} == {}
