"""The public REST API (/api/v1): a fixed contract, thin over the domain."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import FileResponse

from inbox.customers import erase as erasure
from inbox.customers import export as exports
from inbox.customers import merge as merges
from inbox.customers import profile
from inbox.customers import service as customers
from inbox.errors import Invalid, NotFound
from inbox.finder import find
from inbox.messages import service as messages
from inbox.orders import service as orders
from inbox.proactive import queue_proactive
from inbox.replies import add_note, queue_reply, queue_template
from web.deps import ApiTokenDep, FilesDep, SessionDep, SettingsDep, actor_of
from web.downloads import export_response
from web.schemas import (
    MAX_ID,
    REFUSALS,
    CustomerList,
    CustomerOut,
    ErasedOut,
    EraseIn,
    Health,
    MergedCustomerOut,
    MergeIn,
    MessageIn,
    MessageOut,
    MessagePage,
    OrderIn,
    OrderOut,
    Problem,
    SearchResults,
)

router = APIRouter(prefix="/api/v1", tags=["api"], responses=REFUSALS)
health = APIRouter(tags=["health"])

# Ids the tables can hold: a larger number is a 422 naming the parameter, not the driver's overflow.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@health.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/customers")
async def list_customers(session: SessionDep, settings: SettingsDep, _token: ApiTokenDep,
                         q: Annotated[str, Query(min_length=1, max_length=200)]) -> CustomerList:
    found = await profile.search(session, q, region=settings.default_phone_region)
    return CustomerList(items=[CustomerOut.of(p) for p in found])


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: RowId, session: SessionDep, _token: ApiTokenDep) -> CustomerOut:
    return CustomerOut.of(await profile.load(session, customer_id))


@router.get("/customers/{customer_id}/messages")
async def list_messages(customer_id: RowId, session: SessionDep, _token: ApiTokenDep,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        before: Annotated[str | None, Query(max_length=200)] = None) -> MessagePage:
    history = await messages.history(session, customer_id, limit=limit, before=before)
    return MessagePage(items=[MessageOut.of(m, history.customer_id, history.attachments.get(m.id or 0, []))
                              for m in history.messages], next=history.next)


# What a refused message answers besides FastAPI's own 422: the reason is in `detail`, as a sentence.
_REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Refused now: the WhatsApp window is closed (send a template), or for kind "
                         "\"proactive\" the customer's marketing consent on the channel is not in force"},
    404: {"model": Problem, "description": "No such customer or template"}}


@router.post("/customers/{customer_id}/messages", status_code=201, responses=_REFUSED)
async def post_message(customer_id: RowId, body: MessageIn, session: SessionDep, token: ApiTokenDep,
                       idempotency_key: IdempotencyKey = None) -> MessageOut:
    if body.kind == "proactive":
        message = await queue_proactive(session, customer_id=customer_id, channel=body.channel, text=body.text,
                                        template_id=body.template_id, variables=body.variables,
                                        author_name=token.name, idempotency_key=idempotency_key)
    elif body.template_id is not None:
        message = await queue_template(session, customer_id=customer_id, template_id=body.template_id,
                                       variables=body.variables, author_name=token.name,
                                       idempotency_key=idempotency_key)
    else:
        write = add_note if body.kind == "note" else queue_reply
        # A missing text is refused by the domain, naming the field like any other invalid text.
        message = await write(session, customer_id=customer_id, channel=body.channel, text=body.text or "",
                              author_name=token.name, idempotency_key=idempotency_key)
    # Only the id the customer answers to now (a merge may have moved it), not the whole profile.
    survivor = (await customers.get(session, customer_id)).id or 0
    return MessageOut.of(message, survivor, [])


@router.post("/customers/{customer_id}/merge")
async def merge_customer(customer_id: RowId, body: MergeIn, session: SessionDep,
                         token: ApiTokenDep) -> MergedCustomerOut:
    if body.other_id == customer_id:
        raise Invalid("other_id", merges.SAME_CUSTOMER)
    merge = await merges.merge(session, survivor_id=customer_id, absorbed_id=body.other_id, actor=actor_of(token))
    survivor = CustomerOut.of(await profile.load(session, merge.survivor_id))
    return MergedCustomerOut(**survivor.model_dump(), merge_id=merge.id or 0)


@router.get("/customers/{customer_id}/export", response_class=Response)
async def export_customer(customer_id: RowId, session: SessionDep, files: FilesDep, settings: SettingsDep,
                          token: ApiTokenDep) -> FileResponse:
    """The customer's whole record as a zip: customer.json and attachments/<id>-<filename>."""
    made = await exports.export(session, customer_id, files=files, into=settings.data_dir / "exports",
                                actor=actor_of(token))
    return export_response(made)


@router.post("/customers/{customer_id}/erase")
async def erase_customer(customer_id: RowId, body: EraseIn, session: SessionDep, files: FilesDep,
                         token: ApiTokenDep) -> ErasedOut:
    erased = await erasure.erase(session, customer_id, confirm=body.confirm, files=files, actor=actor_of(token))
    return ErasedOut(customer_id=erased.customer_id, counts=erased.counts)


@router.post("/merges/{merge_id}/undo")
async def undo_merge(merge_id: RowId, session: SessionDep, token: ApiTokenDep) -> CustomerList:
    merge = await merges.undo(session, merge_id, actor=actor_of(token))
    return CustomerList(items=[CustomerOut.of(await profile.load(session, customer_id))
                               for customer_id in (merge.survivor_id, merge.absorbed_id)])


@router.put("/orders/{external_id}")
async def put_order(external_id: str, body: OrderIn, session: SessionDep, settings: SettingsDep,
                    _token: ApiTokenDep) -> OrderOut:
    order, lines = await orders.upsert(session, body.to_domain(external_id), region=settings.default_phone_region)
    return OrderOut.of(order, lines)


@router.get("/search")
async def search(session: SessionDep, settings: SettingsDep, _token: ApiTokenDep,
                 q: Annotated[str, Query(min_length=1, max_length=200)]) -> SearchResults:
    found = await find(session, q, region=settings.default_phone_region)
    attachments = await messages.attachments_for(session, [m.id or 0 for m, _ in found.messages])
    return SearchResults(
        customers=[CustomerOut.of(whole) for whole in await profile.load_many(session, found.customers)],
        messages=[MessageOut.of(m, cid, attachments.get(m.id or 0, [])) for m, cid in found.messages],
        orders=[OrderOut.of(order, lines) for order, lines in found.orders],
    )


@router.get("/attachments/{attachment_id}", response_class=Response)
async def get_attachment(attachment_id: RowId, session: SessionDep, files: FilesDep,
                         _token: ApiTokenDep) -> FileResponse:
    attachment = await messages.attachment(session, attachment_id)
    if attachment.sha256 is None:
        raise NotFound("attachment file", attachment_id)
    path = files.path_for(attachment.sha256)
    # Served as a download, never sniffed: a customer's "image" must not run as HTML here.
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename,
                        headers={"X-Content-Type-Options": "nosniff"})

