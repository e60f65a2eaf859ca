"""The sidebar's customer profile: preferences (set by an agent, or stated by the customer in a
message), marketing consent per channel, and messages the shop starts. Thin: inbox.preferences and
inbox.proactive hold the rules; a refused change re-renders the sidebar with the reason beside its form.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from inbox import templates
from inbox.channels import Channel
from inbox.errors import DomainError, Invalid
from inbox.messages.models import Message
from inbox.preferences import service as preferences
from inbox.proactive import NoConsent, queue_proactive
from inbox.threads import conversation
from inbox.threads import service as threads
from inbox.threads.models import Thread
from web.deps import SessionDep
from web.errors import status_of
from web.routes.composer import template_variables
from web.routes.ui import ViewDep, render_pane
from web.ui import pages
from web.ui.forms import attempt, refused
from web.ui.security import AgentDep, actor_of

router = APIRouter(include_in_schema=False)

# Longer than the domain allows, so an over-long value is refused with the domain's reason, inline.
Key = Annotated[str, Form(max_length=200)]
Value = Annotated[str, Form(max_length=5000)]
Text = Annotated[str, Form(max_length=10_000)]


@router.get("/inbox/threads/{thread_id}/preferences/form")
async def preference_form(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, view: ViewDep,
                          message_id: int | None = None, key: Annotated[str, Query(max_length=80)] = "",
                          value: Annotated[str, Query(max_length=1000)] = "") -> Response:
    """The add/change form, prefilled; with `message_id`, quoting the customer's message it is stated in."""
    thread = await threads.get(session, thread_id)
    quoted = await preferences.customers_message(session, customer_id=thread.customer_id,
                                                 message_id=message_id) if message_id else None
    return pages.render(request, "_preference_form.html", {"t": thread, "view": view, "quoted": quoted,
                                                           "pref_key": key, "pref_value": value})


@router.post("/inbox/threads/{thread_id}/preferences")
async def save_preference(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                          key: Key, value: Value, message_id: Annotated[int | None, Form()] = None) -> Response:
    thread = await threads.get(session, thread_id)
    error = await attempt(session, preferences.save_for_agent(
        session, customer_id=thread.customer_id, key=key, value=value, actor=actor_of(found),
        set_by_user_id=found.user.id, message_id=message_id))
    quoted = await _quoted(session, thread, message_id) if error is not None and message_id else None
    return await _sidebar(request, session, thread, view, error, "preference",
                          pref_key=key, pref_value=value, quoted=quoted)


async def _quoted(session: SessionDep, thread: Thread, message_id: int) -> Message | None:
    # Refused, the form still quotes the message it was opened on; unless that message was the problem.
    try:
        return await preferences.customers_message(session, customer_id=thread.customer_id, message_id=message_id)
    except Invalid:
        return None


@router.post("/inbox/threads/{thread_id}/preferences/{key}/remove")
async def remove_preference(request: Request, session: SessionDep, found: AgentDep, thread_id: int, key: str,
                            view: ViewDep) -> Response:
    thread = await threads.get(session, thread_id)
    await preferences.remove_preference(session, customer_id=thread.customer_id, key=key, actor=actor_of(found))
    return await _sidebar(request, session, thread, view)


@router.post("/inbox/threads/{thread_id}/consents")
async def record_consent(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                         consent_channel: Annotated[Channel, Form()],
                         granted: Annotated[Literal["yes", "no"], Form()],
                         proof_message_id: Annotated[int | None, Form()] = None) -> Response:
    thread = await threads.get(session, thread_id)
    error = await attempt(session, preferences.record_agent_consent(
        session, customer_id=thread.customer_id, channel=consent_channel, granted=granted == "yes",
        actor=actor_of(found), proof_message_id=proof_message_id))
    return await _sidebar(request, session, thread, view, error, "consent")


@router.get("/inbox/threads/{thread_id}/proactive/form")
async def proactive_form(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, view: ViewDep,
                         on_channel: Channel, body: Annotated[str, Query(max_length=10_000)] = "",
                         template_id: Annotated[str, Query(pattern=r"^\d{0,12}$")] = "") -> Response:
    """The new-message form for another channel or template, keeping what was typed."""
    thread = await threads.get(session, thread_id)
    pane = await conversation.load(session, thread)
    return pages.render(request, "_proactive_form.html", {
        "pane": pane, "t": pane.thread, "view": view,
        "proactive": await _draft(session, thread, on_channel, body, int(template_id) if template_id else None)})


@router.post("/inbox/threads/{thread_id}/proactive")
async def send_proactive(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                         on_channel: Annotated[Channel, Form()], body: Text = "",
                         template_id: Annotated[int | None, Form()] = None) -> Response:
    """Sent, the pane shows it in the thread; refused (no consent, window closed), the sidebar says why."""
    thread = await threads.get(session, thread_id)
    variables = template_variables(await request.form())
    error = await attempt(session, queue_proactive(
        session, customer_id=thread.customer_id, channel=on_channel, text=body, template_id=template_id,
        variables=variables, author_user_id=found.user.id, author_name=found.user.name))
    if error is None:
        return await render_pane(request, session, thread, view)
    draft = await _draft(session, thread, on_channel, body, template_id)
    return await _sidebar(request, session, thread, view, error, "proactive", proactive=draft)


async def _draft(session: SessionDep, thread: Thread, channel: Channel, text: str,
                 template_id: int | None) -> dict[str, Any]:
    draft: dict[str, Any] = {"channel": str(channel), "text": text}
    if template_id is not None:
        draft["template"], draft["fields"] = await templates.prefilled(session, template_id,
                                                                       customer_id=thread.customer_id)
    return draft


async def _sidebar(request: Request, session: SessionDep, thread: Thread, view: ViewDep,
                   error: DomainError | None = None, form: str = "", **context: Any) -> Response:
    """The sidebar after a change; refused, with the reason beside the form and what was typed kept.

    A refusal keeps its 4xx and says where it goes (HX-Retarget), which web/static/flash.js lets htmx swap.
    """
    pane = await conversation.load(session, thread)
    values = {"pane": pane, "t": pane.thread, "customer": pane.profile.customer, "view": view}
    if error is None:
        return pages.render(request, "_sidebar.html", values)
    # No consent is said in the reader's language, naming the channel (_proactive_form.html).
    no_consent = error if isinstance(error, NoConsent) else None
    return pages.render(request, "_sidebar.html", {**values, **context, **refused(request, error, form),
                                                   "no_consent": no_consent},
                        status_code=status_of(error), headers={"HX-Retarget": "#sidebar", "HX-Reswap": "outerHTML"})
