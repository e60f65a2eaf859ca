"""Every table, imported once so Alembic and the mapper see all of them."""

from inbox.agents.models import (
    ApiToken,
    CannedResponse,
    Role,
    SignInFailure,
    SignInSession,
    Tag,
    Team,
    TeamMember,
    User,
)
from inbox.audit import AuditEvent
from inbox.channel_activity import ChannelActivity
from inbox.customers.models import Customer, Identity, Merge, MergeSuggestion
from inbox.messages.models import Attachment, Message
from inbox.orders.models import Order, OrderLine, OrderRefund
from inbox.poll_positions import PollPosition
from inbox.preferences.models import Consent, Preference
from inbox.processed_events import ProcessedEvent
from inbox.realtime import LiveEvent
from inbox.search import SearchDoc
from inbox.shop_options import ShopOption
from inbox.templates import MessageTemplate
from inbox.threads.models import Case, CaseTag, Thread, ThreadCount, ViewFamilyCount
from inbox.visitors.models import Visitor

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "CannedResponse",
    "Case",
    "CaseTag",
    "ChannelActivity",
    "Consent",
    "Customer",
    "Identity",
    "LiveEvent",
    "Merge",
    "MergeSuggestion",
    "Message",
    "MessageTemplate",
    "Order",
    "OrderLine",
    "OrderRefund",
    "PollPosition",
    "Preference",
    "ProcessedEvent",
    "Role",
    "SearchDoc",
    "ShopOption",
    "SignInFailure",
    "SignInSession",
    "Tag",
    "Team",
    "TeamMember",
    "Thread",
    "ThreadCount",
    "User",
    "ViewFamilyCount",
    "Visitor",
]
