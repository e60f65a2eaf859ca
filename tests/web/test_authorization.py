"""Every route, for every kind of caller: nobody reaches what their role may not open.

Routes are read from the app itself, so a route added later is covered without touching this file.
"""

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from inbox.agents.models import Role
from tests.web.users import signed_in

# Open to anyone by design: health, sign-in, the API's own documentation. Webhooks prove
# themselves with the provider's signature instead (tests/web/test_webhooks.py).
PUBLIC = {"/healthz", "/login", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
          # The web chat as any shop page embeds it, a visitor's session, and the demo shop.
          "/widget.js", "/widget", "/widget/session", "/demo/shop"}
AGENT_ONLY = {"/inbox"}  # and everything under it
ADMIN_ONLY = "/admin"  # and everything under it
ANY_ROLE = {"/", "/logout"}
ANY_ROLE_UNDER = "/account"
# Signed links: no session opens them, only their signature (tests/web/test_whatsapp_media.py).
SIGNED_UNDER = "/files/"
# A web chat visitor's uploads and forms: only the visitor's own token opens them, never a staff session.
VISITOR_UNDER = "/widget/"
# The store counter's lookup: store staff, and admins.
STORE_UNDER = "/store"


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in _walk(app.routes):
        if route.path in PUBLIC:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, re.sub(r"\{[^}]+\}", "1", route.path)))
    return found


def _walk(routes: list[Any]) -> list[APIRoute]:
    # FastAPI keeps an included router as one entry wrapping the router it came from.
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _walk(route.original_router.routes)
    return found


def _allowed(path: str, role: Role | None) -> bool:
    if path.startswith("/api/"):
        return False  # bearer tokens only: a browser session opens nothing there
    if path.startswith((SIGNED_UNDER, VISITOR_UNDER)):
        return False
    if role is None:
        return False
    if path in ANY_ROLE or path == ANY_ROLE_UNDER or path.startswith(ANY_ROLE_UNDER + "/"):
        return True
    if path == ADMIN_ONLY or path.startswith(ADMIN_ONLY + "/"):
        return role == Role.admin
    if path == STORE_UNDER or path.startswith(STORE_UNDER + "/"):
        return role in (Role.store, Role.admin)
    return role in (Role.admin, Role.agent)


async def test_the_route_table_is_not_empty(web_app) -> None:
    routes = _routes(web_app)
    assert {("GET", "/inbox"), ("POST", "/inbox/threads/1/status"), ("POST", "/api/v1/customers/1/messages"),
            ("PUT", "/api/v1/orders/1"), ("GET", "/api/v1/search"), ("GET", "/admin/users"),
            ("POST", "/admin/users/1/role"), ("GET", "/admin/channels"), ("GET", "/account"),
            ("POST", "/account/password"), ("GET", "/store"), ("POST", "/store/customers/1/notes"),
            ("POST", "/inbox/threads/1/calls"), ("POST", "/widget/uploads"), ("POST", "/admin/store")} <= set(routes)


@pytest.mark.parametrize("role", [None, Role.store, Role.agent, Role.admin], ids=lambda r: r or "anonymous")
async def test_every_route_checks_who_is_asking(server, web_app, sessions, role: Role | None) -> None:
    client = await signed_in(server, sessions, role) if role else httpx.AsyncClient(base_url=server)
    refused_but_allowed, let_in = [], []
    try:
        for method, path in _routes(web_app):
            if path == "/logout":
                continue  # would end the session the rest of the loop uses; tests/web/test_sign_in.py covers it
            response = await client.request(method, path, follow_redirects=False)
            assert response.status_code < 500, (method, path, response.status_code)
            refused = response.status_code in (401, 403) or (
                response.status_code == 303 and response.headers["location"].startswith("/login"))
            if _allowed(path, role) and refused:
                refused_but_allowed.append((method, path, response.status_code))
            if not _allowed(path, role) and not refused:
                let_in.append((method, path, response.status_code))
    finally:
        await client.aclose()
    assert let_in == [] and refused_but_allowed == []
