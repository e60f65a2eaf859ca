"""The channels this build ships, one line each: the webhook routes, the admin page and the
delivery worker all read this mapping."""

from adapters import email, messenger, phone, telegram, webchat, whatsapp
from adapters.base import Adapter
from inbox.channels import Channel

# Every class here builds with no arguments, reading its settings from the environment; web/app.py
# gives the web chat the one collaborator it sends through (the live hub).
REGISTRY: dict[Channel, type[Adapter]] = {
    Channel.whatsapp: whatsapp.Adapter,
    Channel.email: email.Adapter,
    Channel.messenger: messenger.Adapter,
    Channel.telegram: telegram.Adapter,
    Channel.phone: phone.Adapter,
    Channel.webchat: webchat.Adapter,
}


def adapter_for(channel: Channel) -> Adapter:
    return REGISTRY[channel]()
