"""A customer's export holds their whole record: every channel's messages, the files byte for byte,
orders, preferences, consents and merges, also of the customers merged into them."""

import json
import os
import time
import zipfile

from sqlalchemy import select
from sqlmodel import col

from inbox.audit import AuditEvent
from inbox.customers import export as exports
from inbox.db import transaction
from tests.customer_record import (
    EMAIL,
    EMAIL_TEXT,
    INVOICE,
    NAME,
    NOTE,
    PHONE,
    PREFERENCE,
    SHARED,
    WEBCHAT_TEXT,
    WHATSAPP_TEXT,
    seed,
)


async def _export(sessions, file_store, tmp_path, customer_id: int) -> exports.Exported:
    async with transaction(sessions) as session:
        return await exports.export(session, customer_id, files=file_store, into=tmp_path / "exports",
                                    actor="user:3:agent@shop.example")


class TestExport:
    async def test_the_zip_holds_every_message_and_every_file(self, sessions, ingest_config, file_store,
                                                              tmp_path) -> None:
        seeded = await seed(sessions, ingest_config)
        made = await _export(sessions, file_store, tmp_path, seeded.customer_id)

        with zipfile.ZipFile(made.path) as archive:
            record = json.loads(archive.read("customer.json"))
            files = {name: archive.read(name) for name in archive.namelist() if name.startswith("attachments/")}
        assert (record["customer"]["id"], record["customer"]["name"], record["customer"]["note"]) == \
            (seeded.customer_id, NAME, NOTE)
        assert [c["id"] for c in record["absorbed_customers"]] == [seeded.absorbed_id]
        by_channel = {(m["channel"], m["text"]) for m in record["messages"] if m["direction"] == "inbound"}
        assert {("whatsapp", WHATSAPP_TEXT), ("email", EMAIL_TEXT), ("webchat", WEBCHAT_TEXT)} <= by_channel
        # The merge's own line is there too: system events belong to the record.
        assert any(m["direction"] == "event" and m["extra"].get("event") == "customer.merged"
                   for m in record["messages"])
        addresses = {i["address"] for i in record["identities"]}
        assert {PHONE, EMAIL} <= addresses
        listed = {a["file"]: a for m in record["messages"] for a in m["attachments"]}
        assert set(listed) == set(files)
        assert sorted(files.values()) == sorted([INVOICE, SHARED])
        assert [(o["number"], o["total"], [line["title"] for line in o["lines"]]) for o in record["orders"]] == \
            [("1042", "349.90", ["Pamuklu tişört"])]
        assert [p["value"] for p in record["preferences"]] == [PREFERENCE]
        assert [c["channel"] for c in record["consents"]] == ["whatsapp"]
        assert [(m["survivor_id"], m["absorbed_id"]) for m in record["merges"]] == \
            [(seeded.customer_id, seeded.absorbed_id)]
        assert {t["customer_id"] for t in record["threads"]} == {seeded.customer_id, seeded.absorbed_id}
        assert all(t["cases"] is not None for t in record["threads"])
        assert [(v["address"], v["name"]) for v in record["web_chat_visitors"]] == [(EMAIL, NAME)]
        assert "key" not in record["web_chat_visitors"][0]
        assert made.messages == len(record["messages"]) and made.attachments == 2

    async def test_another_customers_messages_are_not_in_it(self, sessions, ingest_config, file_store,
                                                            tmp_path) -> None:
        seeded = await seed(sessions, ingest_config)
        made = await _export(sessions, file_store, tmp_path, seeded.customer_id)
        with zipfile.ZipFile(made.path) as archive:
            record = archive.read("customer.json").decode()
        assert "Logo ektedir" not in record and "mehmet@example.org" not in record

    async def test_who_exported_is_in_the_audit_log(self, sessions, ingest_config, file_store, tmp_path) -> None:
        seeded = await seed(sessions, ingest_config)
        await _export(sessions, file_store, tmp_path, seeded.absorbed_id)
        async with sessions() as session:
            row = (await session.execute(
                select(AuditEvent).where(col(AuditEvent.action) == "customer.exported"))).scalar_one()
        assert (row.actor, row.subject_id) == ("user:3:agent@shop.example", seeded.customer_id)
        assert row.data["files"] == 2

    async def test_an_export_whose_download_never_finished_is_deleted_by_the_next(
            self, sessions, ingest_config, file_store, tmp_path) -> None:
        seeded = await seed(sessions, ingest_config)
        left_behind = (await _export(sessions, file_store, tmp_path, seeded.customer_id)).path
        recent = (await _export(sessions, file_store, tmp_path, seeded.customer_id)).path
        an_hour_ago = time.time() - exports.STALE_AFTER.total_seconds() - 60
        os.utime(left_behind, (an_hour_ago, an_hour_ago))
        newest = (await _export(sessions, file_store, tmp_path, seeded.customer_id)).path
        assert not left_behind.exists() and recent.exists() and newest.exists()
