"""The channels this build ships, one line each: the webhook routes, the admin page and the
delivery worker all read this mapping."""

from adapters import messenger, phone, telegram, whatsapp
from adapters.base import Adapter
from inbox.channels import Channel

# Every class here builds with no arguments, reading its settings from the environment.
REGISTRY: dict[Channel, type[Adapter]] = {
    Channel.whatsapp: whatsapp.Adapter,
    Channel.messenger: messenger.Adapter,
    Channel.telegram: telegram.Adapter,
    Channel.phone: phone.Adapter,
}


def adapter_for(channel: Channel) -> Adapter:
    return REGISTRY[channel]()
