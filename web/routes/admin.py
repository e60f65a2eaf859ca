"""The admin's pages: users and roles, teams, tags, canned responses, WhatsApp templates and the channels' set-up.

Plain forms that answer with a redirect (so a reload never posts twice); a refused change re-renders
the page with the reason beside the form, the status of the domain error, and nothing written.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Adapter
from adapters.shopify import Adapter as ShopifyAdapter
from adapters.shopify.adapter import ORDER_TOPICS, REFUND_TOPICS, SOURCE
from inbox import canned, channel_activity, processed_events, shop_options, tags
from inbox import templates as message_templates
from inbox.agents import service as users
from inbox.agents import teams
from inbox.agents.models import Role
from inbox.channels import Channel
from web.deps import SessionDep, SettingsDep
from web.errors import status_of
from web.ui import pages
from web.ui.channel_settings import setting_rows
from web.ui.forms import attempt, refused, saved
from web.ui.security import AdminDep, actor_of

router = APIRouter(prefix="/admin", include_in_schema=False)

# Settings each channel needs, shown while it is not configured (or has no adapter in this build yet).
SETUP = {
    Channel.whatsapp: "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM, PUBLIC_BASE_URL",
    Channel.email: "SUPPORT_ADDRESSES, SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD (optional: SMTP_LISTEN_PORT, "
                   "IMAP_HOST, IMAP_USER, IMAP_PASSWORD)",
    Channel.webchat: "WIDGET_IDENTITY_SECRET, WIDGET_ALLOWED_ORIGINS",
    Channel.messenger: "META_APP_SECRET, META_VERIFY_TOKEN, META_PAGE_ACCESS_TOKEN, PUBLIC_BASE_URL; "
                       "optional META_APP_ID, META_GRAPH_BASE_URL",
    Channel.telegram: "TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET, PUBLIC_BASE_URL (optional: TELEGRAM_API_BASE_URL, "
                      "TELEGRAM_BOT_USERNAME, LINK_SECRET)",
}
Text = Annotated[str, Form(max_length=10_000)]
Line = Annotated[str, Form(max_length=320)]


def _page(request: Request, template: str, tab: str, context: dict[str, Any], status: int = 200) -> Response:
    return pages.render(request, template, {"section": "admin", "tab": tab,
                                            "saved": request.query_params.get("saved") == "1", **context},
                        status_code=status)


@router.get("")
async def home(_found: AdminDep) -> RedirectResponse:
    return RedirectResponse("/admin/users", status_code=303)


# Users and roles

async def _users(request: Request, session: AsyncSession, found: Any, status: int = 200, **extra: Any) -> Response:
    return _page(request, "admin_users.html", "users", {
        "rows": await users.all_users(session), "roles": list(Role), "me": found.user.id,
        "values": {}, **extra}, status)


@router.get("/users")
async def users_page(request: Request, session: SessionDep, found: AdminDep) -> Response:
    return await _users(request, session, found)


@router.post("/users")
async def create_user(request: Request, session: SessionDep, found: AdminDep, name: Line, email: Line,
                      role: Annotated[Role, Form()], password: Annotated[str, Form(max_length=1000)]) -> Response:
    error = await attempt(session, users.create_user(session, email=email, password=password, name=name, role=role))
    if error:
        return await _users(request, session, found, status_of(error), **refused(request, error, "create"),
                            values={"name": name, "email": email, "role": role})
    return saved("/admin/users")


@router.post("/users/{user_id}/role")
async def change_role(request: Request, session: SessionDep, found: AdminDep, user_id: int,
                      role: Annotated[Role, Form()]) -> Response:
    error = await attempt(session, users.set_role(session, user_id, role))
    if error:
        return await _users(request, session, found, status_of(error), **refused(request, error, f"user-{user_id}"))
    return saved("/admin/users")


@router.post("/users/{user_id}/active")
async def change_active(request: Request, session: SessionDep, found: AdminDep, user_id: int,
                        active: Annotated[bool, Form()]) -> Response:
    error = await attempt(session, users.set_active(session, user_id, active))
    if error:
        return await _users(request, session, found, status_of(error), **refused(request, error, f"user-{user_id}"))
    return saved("/admin/users")


# Teams

async def _teams(request: Request, session: AsyncSession, status: int = 200, **extra: Any) -> Response:
    agents = [user for user, _ in await users.all_users(session) if user.role != Role.store]
    return _page(request, "admin_teams.html", "teams", {
        "teams": await teams.all_teams(session), "members": await teams.member_ids(session), "agents": agents,
        **extra}, status)


@router.get("/teams")
async def teams_page(request: Request, session: SessionDep, _found: AdminDep) -> Response:
    return await _teams(request, session)


@router.post("/teams")
async def create_team(request: Request, session: SessionDep, _found: AdminDep, name: Line,
                      member: Annotated[list[int], Form()] = []) -> Response:  # noqa: B006  (FastAPI copies it)
    async def create() -> None:
        team = await teams.create(session, name=name)
        await teams.set_members(session, team.id or 0, member)

    error = await attempt(session, create())
    if error:
        return await _teams(request, session, status_of(error), **refused(request, error, "create"))
    return saved("/admin/teams")


@router.post("/teams/{team_id}")
async def update_team(request: Request, session: SessionDep, _found: AdminDep, team_id: int, name: Line,
                      member: Annotated[list[int], Form()] = []) -> Response:  # noqa: B006
    async def update() -> None:
        await teams.rename(session, team_id, name=name)
        await teams.set_members(session, team_id, member)

    error = await attempt(session, update())
    if error:
        return await _teams(request, session, status_of(error), **refused(request, error, f"team-{team_id}"))
    return saved("/admin/teams")


# Tags

async def _tags(request: Request, session: AsyncSession, status: int = 200, **extra: Any) -> Response:
    return _page(request, "admin_tags.html", "tags", {"tags": await tags.all_tags(session), "colors": tags.COLORS,
                                                      **extra}, status)


@router.get("/tags")
async def tags_page(request: Request, session: SessionDep, _found: AdminDep) -> Response:
    return await _tags(request, session)


@router.post("/tags")
async def create_tag(request: Request, session: SessionDep, _found: AdminDep, name: Line,
                     color: Annotated[str, Form(max_length=20)] = "") -> Response:
    error = await attempt(session, tags.create(session, name=name, color=color))
    if error:
        return await _tags(request, session, status_of(error), **refused(request, error, "create"))
    return saved("/admin/tags")


@router.post("/tags/{tag_id}")
async def update_tag(request: Request, session: SessionDep, _found: AdminDep, tag_id: int, name: Line,
                     color: Annotated[str, Form(max_length=20)] = "") -> Response:
    error = await attempt(session, tags.update(session, tag_id, name=name, color=color))
    if error:
        return await _tags(request, session, status_of(error), **refused(request, error, f"tag-{tag_id}"))
    return saved("/admin/tags")


@router.post("/tags/{tag_id}/delete")
async def delete_tag(request: Request, session: SessionDep, _found: AdminDep, tag_id: int) -> Response:
    error = await attempt(session, tags.remove(session, tag_id))
    if error:
        return await _tags(request, session, status_of(error), **refused(request, error, f"tag-{tag_id}"))
    return saved("/admin/tags")


# Canned responses

async def _canned(request: Request, session: AsyncSession, status: int = 200, **extra: Any) -> Response:
    return _page(request, "admin_canned.html", "canned", {
        "responses": await canned.all_responses(session), "variables": canned.VARIABLES, "values": {},
        **extra}, status)


@router.get("/canned")
async def canned_page(request: Request, session: SessionDep, _found: AdminDep) -> Response:
    return await _canned(request, session)


@router.post("/canned")
async def create_canned(request: Request, session: SessionDep, _found: AdminDep,
                        shortcut: Annotated[str, Form(max_length=61)], body: Text,
                        title: Annotated[str, Form(max_length=200)] = "") -> Response:
    error = await attempt(session, canned.save(session, shortcut=shortcut, title=title, body=body))
    if error:
        return await _canned(request, session, status_of(error), **refused(request, error, "create"),
                             values={"shortcut": shortcut, "title": title, "body": body})
    return saved("/admin/canned")


@router.post("/canned/{response_id}")
async def update_canned(request: Request, session: SessionDep, _found: AdminDep, response_id: int,
                        shortcut: Annotated[str, Form(max_length=61)], body: Text,
                        title: Annotated[str, Form(max_length=200)] = "") -> Response:
    error = await attempt(session, canned.save(session, shortcut=shortcut, title=title, body=body,
                                                response_id=response_id))
    if error:
        return await _canned(request, session, status_of(error),
                             **refused(request, error, f"canned-{response_id}"))
    return saved("/admin/canned")


@router.post("/canned/{response_id}/delete")
async def delete_canned(request: Request, session: SessionDep, _found: AdminDep, response_id: int) -> Response:
    error = await attempt(session, canned.remove(session, response_id))
    if error:
        return await _canned(request, session, status_of(error),
                             **refused(request, error, f"canned-{response_id}"))
    return saved("/admin/canned")


# WhatsApp templates

async def _templates(request: Request, session: AsyncSession, status: int = 200, **extra: Any) -> Response:
    return _page(request, "admin_templates.html", "templates", {
        "templates": await message_templates.all_templates(session), "values": {}, **extra}, status)


@router.get("/templates")
async def templates_page(request: Request, session: SessionDep, _found: AdminDep) -> Response:
    return await _templates(request, session)


@router.post("/templates")
async def create_template(request: Request, session: SessionDep, _found: AdminDep, name: Line, content_sid: Line,
                          language: Annotated[str, Form(max_length=10)], body: Text) -> Response:
    error = await attempt(session, message_templates.save(session, name=name, content_sid=content_sid,
                                                          language=language, body=body))
    if error:
        return await _templates(request, session, status_of(error), **refused(request, error, "create"),
                                values={"name": name, "content_sid": content_sid, "language": language, "body": body})
    return saved("/admin/templates")


@router.post("/templates/{template_id}")
async def update_template(request: Request, session: SessionDep, _found: AdminDep, template_id: int, name: Line,
                          content_sid: Line, language: Annotated[str, Form(max_length=10)], body: Text) -> Response:
    error = await attempt(session, message_templates.save(session, name=name, content_sid=content_sid,
                                                          language=language, body=body, template_id=template_id))
    if error:
        return await _templates(request, session, status_of(error),
                                **refused(request, error, f"template-{template_id}"))
    return saved("/admin/templates")


@router.post("/templates/{template_id}/delete")
async def delete_template(request: Request, session: SessionDep, _found: AdminDep, template_id: int) -> Response:
    error = await attempt(session, message_templates.remove(session, template_id))
    if error:
        return await _templates(request, session, status_of(error),
                                **refused(request, error, f"template-{template_id}"))
    return saved("/admin/templates")


# The store page

@router.get("/store")
async def store_page(request: Request, session: SessionDep, _found: AdminDep) -> Response:
    return _page(request, "admin_store.html", "store", {
        "can_reply": await shop_options.get(session, shop_options.STORE_CAN_REPLY)})


@router.post("/store")
async def set_store(session: SessionDep, found: AdminDep, can_reply: Annotated[bool, Form()] = False) -> Response:
    await shop_options.set_option(session, shop_options.STORE_CAN_REPLY, can_reply, actor=actor_of(found))
    return saved("/admin/store")


# Channels

@router.get("/channels")
async def channels_page(request: Request, session: SessionDep, settings: SettingsDep, _found: AdminDep) -> Response:
    adapters: dict[Channel, Adapter] = {adapter.channel: adapter for adapter in request.app.state.adapters}
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    last = await channel_activity.last_events(session)
    rows = [{"channel": channel, "adapter": adapters.get(channel),
             "configured": bool(adapters.get(channel) and adapters[channel].configured),
             "urls": [(path, base + path) for path in getattr(adapters.get(channel), "paths", ())],
             "setup": SETUP.get(channel, ""), "last_event_at": last.get(channel),
             "settings": setting_rows(getattr(adapters.get(channel), "settings", None))} for channel in Channel]
    shopify: ShopifyAdapter = request.app.state.shopify
    # Orders, not messages: the shop's own webhooks, beside the channels agents answer on.
    shop = {"configured": shopify.configured, "urls": [(path, base + path) for path in shopify.paths],
            "topics": sorted(ORDER_TOPICS | REFUND_TOPICS), "settings": setting_rows(shopify.settings),
            "last_event_at": await processed_events.last_processed(session, SOURCE)}
    return _page(request, "admin_channels.html", "channels", {"rows": rows, "shop": shop, "widget_base": base,
                                                              "public_base_url": settings.public_base_url})
