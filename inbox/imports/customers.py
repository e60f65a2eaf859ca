"""`onethread import customers`: who the shop's customers are, what they like and what they agreed to.

Columns: name, email, phone (email or phone required in every row), then any number of
pref.<key> (pref.language, pref.size, …) and consent.<channel> (consent.whatsapp = yes/no).
An empty cell says nothing: it neither clears a preference nor withdraws a consent.
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.customers.addresses import normalize
from inbox.errors import Invalid
from inbox.imports.table import Progress, Row, Summary, check_columns, import_rows, read, yes_no
from inbox.preferences import service as preferences

COLUMNS = ("name", "email", "phone")
PREFERENCE, CONSENT = "pref.", "consent."
# Who the audit log says made the change.
ACTOR = "import"
CONSENT_CHANNELS = tuple(channel.value for channel in Channel)


async def import_customers(sessions: async_sessionmaker[AsyncSession], data: bytes, *, region: str,
                           delimiter: str | None = None, progress: Progress | None = None) -> Summary:
    """Create each row's customer or find them by email or phone; then their name (only where none
    is known: the inbox's own may be better), addresses, preferences and consents."""
    table = read(data, delimiter=delimiter)
    check_columns(table.columns, known=COLUMNS, required=(), prefixes=(PREFERENCE, CONSENT))
    if "email" not in table.columns and "phone" not in table.columns:
        raise Invalid("file", "needs an email or a phone column: that is how a customer is found")
    unknown = [c for c in table.columns if c.startswith(CONSENT) and c.removeprefix(CONSENT) not in CONSENT_CHANNELS]
    if unknown:
        raise Invalid("file", f"unknown consent channel in {', '.join(unknown)}; the channels are "
                              f"{', '.join(CONSENT_CHANNELS)}")

    async def handle(session: AsyncSession, row: Row) -> str:
        return await _import_row(session, row, region=region)

    return await import_rows(sessions, table, handle, progress=progress)


async def _import_row(session: AsyncSession, row: Row, *, region: str) -> str:
    cell = row.values
    # Checked before anything is written, so the first bad cell is the reason given.
    consents = {name.removeprefix(CONSENT): yes_no(value, name)
                for name, value in cell.items() if name.startswith(CONSENT) and value}
    prefs = {name.removeprefix(PREFERENCE): value for name, value in cell.items()
             if name.startswith(PREFERENCE) and value}
    email, phone, name = cell.get("email", ""), cell.get("phone", ""), " ".join(cell.get("name", "").split())
    customer_id, created = await customers.for_contact(session, email=email, phone=phone, name=name, region=region)
    changed = False
    if not created:
        customer = await customers.get(session, customer_id)
        if name and not customer.name:
            await customers.rename(session, customer_id, name=name)
            changed = True
        changed |= await _add_addresses(session, customer_id, email=email, phone=phone, region=region)
    known = {p.key: p.value for p in await preferences.for_customer(session, customer_id)}
    for key, value in prefs.items():
        # Compared as stored (a slug key, a stripped value), so importing the file again changes nothing.
        if known.get(preferences.clean_key(key)) != value.strip():
            await preferences.set_preference(session, customer_id=customer_id, key=key, value=value, source="import",
                                             actor=ACTOR)
            changed = True
    in_force = {(c.channel, c.purpose): c.granted for c in await preferences.consents_in_force(session, customer_id)}
    for channel, granted in consents.items():
        if in_force.get((channel, "marketing")) != granted:
            await preferences.record_consent(session, customer_id=customer_id, channel=channel, granted=granted,
                                             source="import", actor=ACTOR)
            changed = True
    return "created" if created else "updated" if changed else "unchanged"


async def _add_addresses(session: AsyncSession, customer_id: int, *, email: str, phone: str, region: str) -> bool:
    """Found by one address, the row may give another: it joins the customer, claimed (not proven)."""
    have = {identity.address for identity in await customers.identities(session, customer_id)}
    added = False
    for kind, channel, raw in ((AddressKind.email, Channel.email, email), (AddressKind.phone, Channel.phone, phone)):
        if raw and normalize(kind, raw, region=region) not in have:
            added |= await customers.attach_claimed(session, customer_id=customer_id, kind=kind, channel=channel,
                                                    raw=raw, region=region) is not None
    return added
