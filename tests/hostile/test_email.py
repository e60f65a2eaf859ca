"""Mail as the internet sends it: the recorded .eml files damaged every way mail gets damaged.

The parser never raises (a BadPayload naming the problem is the only refusal), and over a real SMTP
session against the built-in listener every mail gets an answer, 250 or a 5xx, never a dropped
connection, a hang or a "try later"; a 5xx leaves no row behind.
"""

import re
import smtplib
import socket
import time

from hypothesis import given
from hypothesis import strategies as st

from adapters.base import BadPayload, RawRequest
from adapters.email import Adapter
from adapters.email.adapter import ENVELOPE_FROM
from adapters.email.settings import EmailSettings
from inbox.events import DeliveryUpdate, InboundMessage
from tests.hostile.conftest import FIXTURES, SHARED, SUPPORT, Live
from tests.hostile.mutations import budget, damaged_bytes
from tests.soak.figures import record

CORPUS = sorted({path.name: path.read_bytes() for folder in (FIXTURES / "email" / "fixtures", SHARED)
                 if folder.exists() for path in folder.glob("*.eml")}.items())
CHARSETS = ["x-unknown", "utf-7", "utf-16", "utf-32", "", '"', "cp65001", "../../etc", "é", "iso-8859-9'tr'",
            "unicode-1-1-utf-7", "idna", "rot13", "base64", "zlib", "punycode", "hex"]


def nested(depth: int) -> bytes:
    """A multipart `depth` levels deep, each level a boundary of its own."""
    head = b"From: deep@example.net\r\nTo: " + SUPPORT.encode() + b"\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n) for n in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nen icteki metin\r\n" + closing


@st.composite
def damaged_mail(draw: st.DrawFn) -> bytes:
    _name, raw = draw(st.sampled_from(CORPUS))
    head, _, body = raw.partition(b"\r\n\r\n")
    match draw(st.sampled_from(["bytes", "truncate", "charset", "transfer", "boundary", "nested", "huge header",
                                "many headers", "nul", "8-bit header", "encoded word", "no blank line"])):
        case "bytes":
            return draw(damaged_bytes(raw))
        case "truncate":
            return raw[:draw(st.integers(0, len(raw)))]
        case "charset":
            return re.sub(rb'charset="?[^";\r\n]*"?', b"charset=" + draw(st.sampled_from(CHARSETS)).encode(), raw)
        case "transfer":
            encoding = draw(st.sampled_from([b"base64", b"quoted-printable", b"x-uuencode", b"8bit", b"junk"]))
            junk = draw(st.sampled_from([b"=Z=\r\n=", b"@@@@", b"QUJD=\x00==", b"====", b"\xff\xfe=4", b"A"]))
            swapped = re.sub(rb"(?i)Content-Transfer-Encoding:[^\r\n]*", b"Content-Transfer-Encoding: " + encoding, raw)
            if swapped == raw:
                swapped = head + b"\r\nContent-Transfer-Encoding: " + encoding + b"\r\n\r\n" + body
            return swapped + junk
        case "boundary":
            return draw(st.sampled_from([re.sub(rb'boundary="?[^";\r\n]*"?', b"", raw),
                                         re.sub(rb"\r\n--[^\r\n]*--", b"", raw),
                                         re.sub(rb'boundary="?([^";\r\n]*)"?', b'boundary=""', raw)]))
        case "nested":
            return nested(draw(st.sampled_from([100, 400, 1200])))
        case "huge header":
            return b"Subject: " + b"uzun " * draw(st.integers(2_000, 30_000)) + b"\r\n" + raw
        case "many headers":
            return b"X-Junk: 1\r\n" * draw(st.integers(1_000, 10_000)) + raw
        case "nul":
            at = draw(st.integers(0, len(raw)))
            return raw[:at] + b"\x00" * draw(st.integers(1, 5)) + raw[at:]
        case "8-bit header":
            return b"Subject: " + draw(st.binary(min_size=1, max_size=60)).replace(b"\r", b"").replace(b"\n", b"") \
                + b"\r\nFrom: \xc4\xb0lker \xfe <ilker@example.net>\r\n" + raw
        case "encoded word":
            word = draw(st.sampled_from([b"=?utf-8?B?####?=", b"=?x-unknown?Q?abc?=", b"=?utf-8?Q?=ZZ=?=",
                                         b"=?iso-8859-9?B?" + b"/" * 50 + b"?=", b"=?utf-8*tr?Q?a?=", b"=?=?=?"]))
            return re.sub(rb"(?m)^(Subject|From): ", rb"\1: " + word + b" ", raw, count=1)
        case _:
            return raw.replace(b"\r\n\r\n", b"\r\n", 1)


def _parse(raw: bytes) -> list[object]:
    return list(Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {ENVELOPE_FROM: "x@shop.example"}, body=raw)))


def test_the_parser_reads_every_damaged_mail_or_names_why_not() -> None:
    tally = {"mails": 0, "kept": 0, "refused": 0}

    @budget(2)
    @given(damaged_mail())
    def case(raw: bytes) -> None:
        tally["mails"] += 1
        try:
            events = _parse(raw)
        except BadPayload:
            tally["refused"] += 1
            return
        tally["kept"] += 1
        assert all(isinstance(event, InboundMessage | DeliveryUpdate) for event in events)

    try:
        case()
        # And the worst of the kinds, once each whatever the budget.
        for raw in (nested(100), nested(3000), b"", b"\x00" * 1000, b"\r\n" * 1000, b"From:\r\n" * 5000):
            tally["mails"] += 1
            _parse(raw)
            tally["kept"] += 1
    finally:
        record("hostile input, email parser over damaged mail",
               f"mails {tally['mails']} (from {len(CORPUS)} recorded), parser raised 0, kept {tally['kept']}, "
               f"refused with a reason {tally['refused']}")


def test_a_huge_header_is_read_in_a_moment() -> None:
    # The standard library's header parser grows faster than the header: before headers were read up
    # to mime.MAX_HEADER, this 600 kB Subject held the event loop (and every other request) for 7 s.
    raw = b"Subject: " + b"uzun " * 120_000 + b"\r\n" + CORPUS[0][1]
    started = time.perf_counter()
    (event,) = _parse(raw)
    seconds = time.perf_counter() - started
    record("hostile input, email with a 600 kB Subject", f"read in {seconds:.2f} s (7.0 s before the fix)")
    assert isinstance(event, InboundMessage) and event.subject and len(event.subject) <= 998
    assert seconds < 2


def _deliver(live: Live, raw: bytes) -> int:
    with smtplib.SMTP("127.0.0.1", live.smtp_port, timeout=20) as client:
        try:
            client.sendmail("customer@example.net", [SUPPORT], raw)
        except smtplib.SMTPDataError as error:
            return error.smtp_code
        except smtplib.SMTPSenderRefused as error:
            return error.smtp_code
        return 250


def test_every_smtp_session_gets_an_answer_and_a_refusal_keeps_nothing(live: Live) -> None:
    tally = {"sessions": 0, "250": 0, "5xx": 0, "other": 0, "dropped": 0, "writes after 5xx": 0}

    @budget(1)
    @given(damaged_mail())
    def case(raw: bytes) -> None:
        before = live.rows()
        tally["sessions"] += 1
        try:
            code = _deliver(live, raw)
        except (smtplib.SMTPServerDisconnected, OSError):
            tally["dropped"] += 1
            raise
        kind = "250" if code == 250 else "5xx" if 500 <= code < 600 else "other"
        tally[kind] += 1
        if kind == "5xx" and live.rows() != before:
            tally["writes after 5xx"] += 1
        assert kind != "other", code
        assert not (kind == "5xx" and tally["writes after 5xx"])

    try:
        case()
    finally:
        record("hostile input, SMTP sessions with damaged mail",
               f"sessions {tally['sessions']}, answered 250 {tally['250']}, 5xx {tally['5xx']}, "
               f"other (4xx) {tally['other']}, dropped or hung {tally['dropped']}, "
               f"writes after 5xx {tally['writes after 5xx']}")


def test_a_mail_with_nul_in_its_ids_and_history_is_kept(live: Live) -> None:
    # On PostgreSQL this was a 451: text and jsonb refuse U+0000, the insert failed, and the
    # sender's MTA would retry the same mail for days.
    raw = (b"From: customer@example.net\r\nTo: " + SUPPORT.encode() + b"\r\nSubject: s\x00ipari\x00s\r\n"
           b"Message-ID: <nul\x00id@example.net>\r\nReferences: <a\x00b@acme.example> <c@acme.example>\r\n"
           b"In-Reply-To: <a\x00b@acme.example>\r\n\r\nMerhaba\x00\r\n\r\nOn Mon, Ali wrote:\r\n> eski\x00 metin\r\n")
    before = live.rows()
    code = _deliver(live, raw)
    kept = live.rows()["message"] - before["message"]  # the mail, and the "case opened" line before it
    record("hostile input, SMTP mail with NUL bytes in ids, subject and history",
           f"answered {code} (451 before the fix, on PostgreSQL), rows in message +{kept}")
    assert code == 250 and kept >= 1


def test_junk_smtp_commands_each_get_a_reply_and_the_session_goes_on(live: Live) -> None:
    replies: list[int] = []
    goodbyes: list[bytes] = []

    @budget(0.5)
    @given(st.lists(st.binary(max_size=2000).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=5))
    def case(lines: list[bytes]) -> None:
        with socket.create_connection(("127.0.0.1", live.smtp_port), timeout=10) as raw, raw.makefile("rb") as answers:
            assert answers.readline().startswith(b"220")
            for line in [*lines, b"NOOP"]:
                raw.sendall(line + b"\r\n")
                # A reply may run over several lines ("250-…"); the last has a space after the code.
                while (reply := answers.readline())[3:4] == b"-":
                    pass
                assert reply[:3].isdigit(), (line[:80], reply)
                replies.append(int(reply[:3]))
                if reply.startswith((b"421", b"502 5.5.1 Too many")):
                    # aiosmtpd's own defence: after five unknown commands it says goodbye and hangs up.
                    goodbyes.append(reply)
                    return
            assert replies[-1] == 250  # the NOOP after the junk: still talking

    try:
        case()
    finally:
        record("hostile input, junk SMTP commands",
               f"lines sent {len(replies)}, each answered with a reply code, "
               f"codes {', '.join(f'{c}×{replies.count(c)}' for c in sorted(set(replies)))}; "
               f"sessions ended by the server after saying goodbye {len(goodbyes)}, without a word 0")
