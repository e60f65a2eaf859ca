"""Telegram updates → inbox events: pure functions over python-telegram-bot's parsed Update, and a
shortcut past it for the plain text message most updates are."""

import re
from datetime import UTC, datetime
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update, User

from adapters.base import BadPayload, read_json
from inbox.channels import AddressKind, Channel
from inbox.events import (
    ContactShared,
    InboundEvent,
    InboundMessage,
    IncomingFile,
    LinkOpened,
    MessageEdited,
    Party,
)

# The update kinds we turn into events; setWebhook asks Telegram for these alone.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# "/start PAYLOAD" is what a t.me/<bot>?start=PAYLOAD link sends; "@bot" appears when typed in a group.
_START = re.compile(r"/start(?:@\w+)?\s+(\S+)\s*")
UNSUPPORTED = "(a kind of Telegram message the inbox cannot show)"
# Fields Telegram sends as strings and the inbox stores: PTB takes them on trust, so a list in
# `mime_type` or `first_name` would travel as far as the database and be a 500 there.
_TEXT_FIELDS = frozenset({"text", "caption", "first_name", "last_name", "username", "file_name", "mime_type",
                          "file_id", "file_unique_id", "data", "phone_number", "emoji", "title", "type"})


# The plain text message from a private chat, the bulk of a shop's updates, is read straight from the
# JSON: PTB's Update.de_json builds an object per field through a guarded __setattr__, ~270 µs an
# update and a quarter of the webhook's time (bench/channels.py). Any other key of the update or the
# message, or a value of another type, takes PTB's path, so the events are the same either way. (A
# chat's and a user's other fields are scalars PTB keeps without looking: they change nothing.)
_PLAIN_UPDATE = frozenset({"update_id", "message"})
_PLAIN_MESSAGE = frozenset({"message_id", "from", "chat", "date", "text", "entities", "link_preview_options"})
_PLAIN_ENTITY = frozenset({"type", "offset", "length", "url", "language", "custom_emoji_id"})


def parse(body: bytes) -> list[InboundEvent]:
    """What the body means for the inbox (see events()); BadPayload for what is no Telegram update."""
    data = read_json(body)
    _check(data)
    plain = _plain_text(data)
    return plain if plain is not None else events(_update(data))


def read_update(body: bytes) -> Update:
    data = read_json(body)
    _check(data)
    return _update(data)


def _check(data: Any) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadPayload("not a Telegram update: update_id missing or not a number")
    for kind in ("message", "edited_message"):
        message = data.get(kind)
        # PTB builds a Message without a chat rather than refuse it.
        if message is not None and not (isinstance(message, dict) and isinstance(message.get("chat"), dict)
                                        and {"message_id", "date"} <= message.keys()):
            raise BadPayload(f"not a Telegram update: {kind} needs message_id, date and chat")
    _check_text_fields(data)


def _update(data: dict[str, Any]) -> Update:
    try:
        return Update.de_json(data)
    # PTB's parser assumes Telegram's shapes and fails on anything else with whatever the first
    # wrong field triggers (KeyError, TypeError, AttributeError…): all of it is a bad payload.
    except Exception as error:
        raise BadPayload(f"not a Telegram update: {type(error).__name__} {error}") from error


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_text(data: dict[str, Any]) -> list[InboundEvent] | None:
    """events() of a plain text message read from the dict, or None when it is anything else."""
    message = data.get("message")
    if data.keys() - _PLAIN_UPDATE or not isinstance(message, dict) or message.keys() - _PLAIN_MESSAGE:
        return None
    chat, user, text, date = message["chat"], message.get("from"), message.get("text"), message["date"]
    entities = message.get("entities", [])
    if not (isinstance(text, str) and text and _int(message["message_id"]) and _int(date)
            and isinstance(chat, dict) and _int(chat.get("id")) and isinstance(chat.get("type"), str)
            and isinstance(user, dict) and _int(user.get("id"))
            and isinstance(user.get("is_bot"), bool) and isinstance(user.get("first_name"), str)
            and isinstance(entities, list)
            and all(isinstance(entity, dict) and {"type", "offset", "length"} <= entity.keys() <= _PLAIN_ENTITY
                    and _int(entity["offset"]) and _int(entity["length"]) for entity in entities)):
        return None
    # As _sender(): people one to one only.
    if chat["type"] != Chat.PRIVATE or user["is_bot"]:
        return []
    last_name = user.get("last_name")
    full_name = f"{user['first_name']} {last_name}" if last_name else user["first_name"]
    sender = Party(str(chat["id"]), AddressKind.handle, True, full_name or user.get("username") or None)
    pid = f"{chat['id']}:{message['message_id']}"
    try:
        at = datetime.fromtimestamp(date, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise BadPayload(f"not a Telegram update: {type(error).__name__} {error}") from error
    if start := _START.fullmatch(text):
        return [LinkOpened(channel=Channel.telegram, provider_id=pid, sender=sender, payload=start.group(1),
                           text=text, provider_at=at)]
    return [InboundMessage(channel=Channel.telegram, provider_id=pid, sender=sender, text=text.replace("\x00", ""),
                           provider_at=at)]


def _check_text_fields(data: dict[str, Any]) -> None:
    # Iterative: the body may nest as deep as the JSON parser allowed.
    pending: list[Any] = [data]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _TEXT_FIELDS and value is not None and not isinstance(value, str):
                    raise BadPayload(f"not a Telegram update: {key} is not text")
                if isinstance(value, dict | list):
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(item for item in node if isinstance(item, dict | list))


def events(update: Update) -> list[InboundEvent]:
    """What an update means for the inbox; [] for updates we do not handle (they are still acknowledged)."""
    if update.message is not None:
        sender = _sender(update.message.chat, update.message.from_user)
        return [_message(update.message, sender)] if sender else []
    if update.edited_message is not None:
        edited = update.edited_message
        if _sender(edited.chat, edited.from_user) is None:
            return []
        return [MessageEdited(channel=Channel.telegram, provider_id=provider_id(edited),
                              text=edited.text or edited.caption or "", edited_at=edited.edit_date)]
    if update.callback_query is not None:
        return _button(update.callback_query)
    return []


def provider_id(message: Message) -> str:
    # message_id is unique only within its chat.
    return f"{message.chat.id}:{message.message_id}"


def _sender(chat: Chat, user: User | None) -> Party | None:
    # A support inbox talks to people one to one: groups, channels and other bots are not customers.
    if chat.type != Chat.PRIVATE or user is None or user.is_bot:
        return None
    # In a private chat the chat id is the user's id, and it is what sendMessage needs.
    return Party(str(chat.id), AddressKind.handle, True, user.full_name or user.username or None)


def _message(message: Message, sender: Party) -> InboundEvent:
    pid = provider_id(message)
    text = message.text or message.caption or ""
    contact = message.contact
    if contact is not None and message.from_user is not None and contact.user_id == message.from_user.id:
        # Telegram vouches for the number only when users share their own (user_id == from.id).
        shared = Party(_e164(contact.phone_number), AddressKind.phone, True,
                       " ".join(filter(None, (contact.first_name, contact.last_name))) or None)
        return ContactShared(channel=Channel.telegram, provider_id=pid, sender=sender, shared=shared)
    if message.text and (start := _START.fullmatch(message.text)):
        return LinkOpened(channel=Channel.telegram, provider_id=pid, sender=sender, payload=start.group(1),
                          text=message.text, provider_at=message.date)
    extra: dict[str, Any] = {}
    if contact is not None:
        # Someone else's card: only what the customer claims, never merged with anyone.
        name = " ".join(filter(None, (contact.first_name, contact.last_name)))
        phone = _e164(contact.phone_number)
        extra["contact"] = {"name": name, "phone": phone, "user_id": contact.user_id, "verified": False}
        text = text or "shared a contact: " + " ".join(filter(None, (name, phone)))
    if message.location is not None:
        extra["location"] = {"latitude": message.location.latitude, "longitude": message.location.longitude}
    if message.sticker is not None:
        extra["sticker"] = message.sticker.emoji or ""
        text = text or message.sticker.emoji or "sticker"
    files = _files(message)
    if not (text or files or extra):
        text, extra["unsupported"] = UNSUPPORTED, True
    replied = message.reply_to_message
    return InboundMessage(channel=Channel.telegram, provider_id=pid, sender=sender, text=text.replace("\x00", ""),
                          files=files, provider_at=message.date,
                          reply_to=(provider_id(replied),) if replied is not None else (), extra=extra)


def _e164(phone: str) -> str:
    # Telegram sends international numbers, with or without the "+" (PROTOCOLS §0.5).
    digits = phone.strip()
    return digits if digits.startswith("+") else "+" + digits


def _files(message: Message) -> tuple[IncomingFile, ...]:
    """References to the files (their file_id): the media worker fetches the bytes after the webhook."""
    found: list[IncomingFile] = []
    if message.photo:
        # The same picture in several sizes, smallest first.
        largest = message.photo[-1]
        found.append(_file(f"photo-{largest.file_unique_id}.jpg", "image/jpeg", largest.file_id))
    if (document := message.document) is not None:
        found.append(_file(document.file_name or f"document-{document.file_unique_id}",
                           document.mime_type or "application/octet-stream", document.file_id))
    if (voice := message.voice) is not None:
        found.append(_file(f"voice-{voice.file_unique_id}.ogg", voice.mime_type or "audio/ogg",
                           voice.file_id))
    if (audio := message.audio) is not None:
        found.append(_file(audio.file_name or f"audio-{audio.file_unique_id}.mp3",
                           audio.mime_type or "audio/mpeg", audio.file_id))
    if (video := message.video) is not None:
        found.append(_file(video.file_name or f"video-{video.file_unique_id}.mp4",
                           video.mime_type or "video/mp4", video.file_id))
    if (note := message.video_note) is not None:
        found.append(_file(f"video-note-{note.file_unique_id}.mp4", "video/mp4", note.file_id))
    return tuple(found)


def _file(filename: object, content_type: object, file_id: object) -> IncomingFile:
    # PTB takes Telegram's types on trust: a list where a name belongs would reach the database (a 500).
    if not all(isinstance(value, str) and value for value in (filename, content_type, file_id)):
        raise BadPayload("not a Telegram update: a file's name, type or id is not text")
    return IncomingFile(str(filename), str(content_type), url=str(file_id))


def _button(query: CallbackQuery) -> list[InboundEvent]:
    shown = query.message
    # Buttons under inline-mode messages come without the message: no chat to file them in.
    if not isinstance(shown, Message) or query.data is None:
        return []
    sender = _sender(shown.chat, query.from_user)
    if sender is None:
        return []
    label = next((button.text for row in (shown.reply_markup.inline_keyboard if shown.reply_markup else ())
                  for button in row if button.callback_data == query.data), None)
    return [InboundMessage(
        # A tap is not a message: its query id is its only name, unique across the bot.
        channel=Channel.telegram, provider_id=f"{shown.chat.id}:callback:{query.id}", sender=sender,
        text=label or query.data, reply_to=(provider_id(shown),),
        extra={"button": {"text": label or "", "payload": query.data}})]
