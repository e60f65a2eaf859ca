"""Message templates: texts WhatsApp approved in advance, the only thing it lets us send outside its window.

A template is approved in the Twilio console, which gives it a Content SID (`HX…`); here we keep
that SID with a copy of the approved text. The copy has Twilio's numbered placeholders (`{{1}}`,
`{{2}}`): it is what the agent fills in and what the thread shows, while Twilio sends its own
approved text with the same variables.
"""

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from inbox import canned
from inbox.channels import Channel
from inbox.db import UTCDateTime, utcnow
from inbox.errors import Conflict, Invalid, NotFound
from inbox.text import fold

# Channels with templates; Messenger's message tags are not templates (inbox/windows.py).
CHANNELS = (Channel.whatsapp,)
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
LANGUAGES = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_NAME = re.compile(r"^[\w.-]{1,100}$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\d{1,2})\s*\}\}")
# WhatsApp refuses a template whose text is longer (Twilio error 63021).
MAX_BODY = 1024
# Words before a placeholder that mean an order number goes there (English and Turkish, folded).
_ORDER_WORDS = ("order", "siparis")


class MessageTemplate(SQLModel, table=True):
    __tablename__ = "message_template"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(default=Channel.whatsapp, max_length=20)
    name: str = Field(max_length=100, unique=True)
    content_sid: str = Field(max_length=34)
    language: str = Field(default="tr", max_length=10)
    body: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def placeholders(body: str) -> list[str]:
    """The placeholder numbers in the text, each once, in the order they first appear."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(body)))


def render(body: str, variables: dict[str, str]) -> str:
    """The text with every placeholder filled; a missing, empty or unknown variable is refused.

    WhatsApp would refuse an empty one later (Twilio 63013), after the agent has moved on.
    """
    wanted = placeholders(body)
    if unknown := sorted(set(variables) - set(wanted)):
        raise Invalid("variables", f"the template has no placeholder {{{{{unknown[0]}}}}}"
                      + (f"; it has {_listed(wanted)}" if wanted else "; it takes no variables"))
    for number in wanted:
        if number not in variables:
            raise Invalid("variables", f"missing a value for {{{{{number}}}}}")
        if not variables[number].strip():
            raise Invalid("variables", f"{{{{{number}}}}} is empty: WhatsApp refuses empty template variables")
    return _PLACEHOLDER.sub(lambda m: variables[m.group(1)].strip(), body)


def suggested(body: str, values: dict[str, str]) -> dict[str, str]:
    """Values an agent most likely wants, from inbox.canned.values_for: `{{1}}` is the customer's first
    name, and a placeholder next to "order"/"sipariş" ("your order {{2}}", "{{2}} numaralı siparişiniz")
    or after "#" is their newest order's number."""
    found: dict[str, str] = {}
    # The text around each placeholder, up to its neighbours.
    pieces = _PLACEHOLDER.split(body)
    for index in range(1, len(pieces), 2):
        number, before, after = pieces[index], fold(pieces[index - 1][-25:]), fold(pieces[index + 1][:25])
        if number == "1" and values.get("customer.first_name"):
            found.setdefault(number, values["customer.first_name"])
        elif (before.rstrip().endswith("#") or any(word in before + after for word in _ORDER_WORDS)) \
                and values.get("order.number"):
            found.setdefault(number, values["order.number"])
    return found


async def prefilled(session: AsyncSession, template_id: int, *,
                    customer_id: int) -> tuple[MessageTemplate, list[tuple[str, str]]]:
    """The template with each placeholder's number and the value suggested for this customer ("" if none)."""
    template = await get(session, template_id)
    values = suggested(template.body, await canned.values_for(session, customer_id))
    return template, [(number, values.get(number, "")) for number in placeholders(template.body)]


def _listed(numbers: list[str]) -> str:
    return ", ".join(f"{{{{{number}}}}}" for number in numbers)


def _checked(*, channel: str, name: str, content_sid: str, language: str, body: str) -> dict[str, str]:
    name, content_sid, language, body = name.strip(), content_sid.strip(), language.strip(), body.strip()
    if channel not in CHANNELS:
        raise Invalid("channel", f"templates are for {', '.join(CHANNELS)} only")
    if not _NAME.match(name):
        raise Invalid("name", "use letters, digits, ., - or _ (up to 100), e.g. order_shipped")
    if not CONTENT_SID.match(content_sid):
        raise Invalid("content_sid", "a Content SID is HX followed by 32 hex digits; copy it from the Twilio "
                                     "console's Content Template Builder")
    if not LANGUAGES.match(language):
        raise Invalid("language", "a language code such as tr, en or pt_BR")
    if not body:
        raise Invalid("body", "paste the template's approved text")
    if len(body) > MAX_BODY:
        raise Invalid("body", f"longer than {MAX_BODY} characters, which WhatsApp refuses")
    numbers = sorted(int(number) for number in placeholders(body))
    if numbers != list(range(1, len(numbers) + 1)):
        raise Invalid("body", f"placeholders are numbered {{{{1}}}}, {{{{2}}}}… without gaps; found "
                              f"{_listed([str(n) for n in numbers])}")
    return {"channel": channel, "name": name, "content_sid": content_sid, "language": language, "body": body}


async def all_templates(session: AsyncSession, *, channel: str | None = None) -> list[MessageTemplate]:
    query = select(MessageTemplate).order_by(col(MessageTemplate.name))
    if channel is not None:
        query = query.where(col(MessageTemplate.channel) == channel)
    return list((await session.execute(query)).scalars())


async def get(session: AsyncSession, template_id: int) -> MessageTemplate:
    found = await session.get(MessageTemplate, template_id)
    if found is None:
        raise NotFound("template", template_id)
    return found


async def save(session: AsyncSession, *, name: str, content_sid: str, language: str, body: str,
               channel: str = Channel.whatsapp, template_id: int | None = None) -> MessageTemplate:
    """Create, or with template_id update; names are unique."""
    fields = _checked(channel=channel, name=name, content_sid=content_sid, language=language, body=body)
    clash = select(col(MessageTemplate.id)).where(col(MessageTemplate.name) == fields["name"])
    if template_id is not None:
        clash = clash.where(col(MessageTemplate.id) != template_id)
    if (await session.execute(clash)).first():
        raise Conflict(f"a template named {fields['name']} exists already")
    template = (await get(session, template_id) if template_id is not None
                else MessageTemplate(name=fields["name"], content_sid=fields["content_sid"]))
    for key, value in fields.items():
        setattr(template, key, value)
    session.add(template)
    await session.flush()
    return template


async def remove(session: AsyncSession, template_id: int) -> None:
    # Messages already sent keep their copy in extra["template"]: nothing points at this row.
    await get(session, template_id)
    await session.execute(delete(MessageTemplate).where(col(MessageTemplate.id) == template_id))
