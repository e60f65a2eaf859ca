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
from tests.soak.figures import record
from tests.web.users import signed_in

# Who may open what, by path: the first rule whose prefix a route's path starts with decides (an
# exact path when the rule ends without "/"). A route that no rule covers fails the test: whoever
# adds a route says here who may open it.
ANYONE, SIGNED_LINK, VISITOR, BEARER = "anyone", "signed link", "visitor", "bearer"
RULES: list[tuple[str, set[Role] | str]] = [
    # Health, sign-in, the API's own documentation. Webhooks prove themselves with the provider's
    # signature instead (tests/web/test_webhooks.py) and are not in this table's routes.
    ("/healthz", ANYONE), ("/login", ANYONE), ("/docs", ANYONE), ("/docs/oauth2-redirect", ANYONE),
    ("/redoc", ANYONE), ("/openapi.json", ANYONE),
    # The web chat as any shop page embeds it, and the demo shop.
    ("/widget.js", ANYONE), ("/widget", ANYONE), ("/widget/session", ANYONE), ("/demo/shop", ANYONE),
    # A web chat visitor's uploads and forms: only the visitor's own token opens them, never a staff session.
    ("/widget/", VISITOR),
    # Files a provider downloads: only their signature opens them (tests/web/test_whatsapp_media.py).
    ("/files/", SIGNED_LINK),
    # Bearer tokens only: a browser session opens nothing there.
    ("/api/", BEARER),
    ("/admin", {Role.admin}), ("/admin/", {Role.admin}),
    # The store counter's lookup: store staff, and admins.
    ("/store", {Role.store, Role.admin}), ("/store/", {Role.store, Role.admin}),
    ("/", {Role.admin, Role.agent, Role.store}), ("/logout", {Role.admin, Role.agent, Role.store}),
    ("/account", {Role.admin, Role.agent, Role.store}), ("/account/", {Role.admin, Role.agent, Role.store}),
    # Erasing a customer cannot be undone: admins only (exporting is any agent's, under /inbox/).
    ("/inbox/threads/1/customer/erase", {Role.admin}),
    ("/inbox", {Role.admin, Role.agent}), ("/inbox/", {Role.admin, Role.agent}),
    ("/search", {Role.admin, Role.agent}), ("/search/", {Role.admin, Role.agent}),
]


def rule_for(path: str) -> set[Role] | str:
    for prefix, who in RULES:
        if path == prefix or (prefix.endswith("/") and prefix != "/" and path.startswith(prefix)):
            return who
    raise AssertionError(f"no rule says who may open {path}: add one to RULES in {__file__}")


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in _walk(app.routes):
        if rule_for(re.sub(r"\{[^}]+\}", "1", route.path)) == ANYONE:
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
    who = rule_for(path)
    return role is not None and isinstance(who, set) and role in who


def _refused(response: httpx.Response) -> bool:
    return response.status_code in (401, 403) or (
        response.status_code == 303 and response.headers["location"].startswith("/login"))


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
            refused = _refused(response)
            if _allowed(path, role) and refused:
                refused_but_allowed.append((method, path, response.status_code))
            if not _allowed(path, role) and not refused:
                let_in.append((method, path, response.status_code))
    finally:
        await client.aclose()
    record(f"authorization, {role or 'anonymous'}", f"guarded routes (method × path) {len(_routes(web_app))}, "
           f"let in wrongly {len(let_in)}, "
           f"refused wrongly {len(refused_but_allowed)}")
    assert let_in == [] and refused_but_allowed == []


async def test_every_route_has_a_rule(web_app) -> None:
    for route in _walk(web_app.routes):
        rule_for(re.sub(r"\{[^}]+\}", "1", route.path))


async def test_an_api_token_opens_the_api_and_nothing_else(server, web_app, token) -> None:
    refused_but_allowed, let_in = [], []
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {token}"}) as client:
        for method, path in _routes(web_app):
            response = await client.request(method, path, follow_redirects=False)
            assert response.status_code < 500, (method, path, response.status_code)
            allowed = rule_for(path) == BEARER
            if allowed and _refused(response):
                refused_but_allowed.append((method, path, response.status_code))
            if not allowed and not _refused(response):
                let_in.append((method, path, response.status_code))
    record("authorization, API token", f"guarded routes (method × path) {len(_routes(web_app))}, "
           f"let in wrongly {len(let_in)}, "
           f"refused wrongly {len(refused_but_allowed)}")
    assert let_in == [] and refused_but_allowed == []


async def test_every_form_refuses_a_post_without_its_csrf_token(server, web_app, sessions) -> None:
    # An admin may open every staff page, so only the missing token can be why one refuses.
    admin = await signed_in(server, sessions, Role.admin)
    del admin.headers["X-CSRF-Token"]
    accepted = []
    posted = 0
    try:
        for method, path in _routes(web_app):
            if method == "GET" or not isinstance(rule_for(path), set) or path == "/logout":
                continue
            posted += 1
            response = await admin.request(method, path, follow_redirects=False)
            if response.status_code != 403:
                accepted.append((method, path, response.status_code))
    finally:
        await admin.aclose()
    record("csrf", f"staff forms posted without their token {posted}, accepted {len(accepted)}")
    assert accepted == []
