"""Websocket frames under hostile input: the web chat widget's socket (/ws/widget) and the agents' (/live).

A visitor's broken frame gets an error frame and the socket goes on (a ping after it still gets its
pong); nothing is written unless a message was acknowledged; the server never drops the socket with
an internal error (close code 1011).
"""

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from inbox.agents.models import Role
from tests.hostile.conftest import FIXTURES, Live
from tests.hostile.mutations import JUNK_JSON, budget, damaged_json
from tests.soak.figures import record
from tests.web.users import PASSWORD, csrf_of, make_user
from web.ui.security import SESSION_COOKIE

RECORDED = [json.loads(path.read_bytes()) for path in sorted((FIXTURES / "webchat" / "fixtures").glob("*.json"))
            if not path.name.startswith(("session__", "hello"))]
FRAMES = st.one_of(st.binary(max_size=200), st.text(max_size=200), JUNK_JSON.map(json.dumps),
                   st.sampled_from(RECORDED).flatmap(damaged_json).map(json.dumps),
                   st.sampled_from(RECORDED).map(json.dumps),
                   st.sampled_from(RECORDED).map(lambda frame: json.dumps(frame).encode()))
AFTER_IDS = st.one_of(st.just(0), st.integers(-5, 10**6), st.sampled_from([2**31, 2**63, 10**30]))


def _ticket(live: Live, token: str) -> tuple[str, str]:
    started = live.http.post("/widget/session", json={"token": token})
    assert started.status_code == 200, started.text
    return str(started.json()["token"]), str(started.json()["ticket"])


def _until(socket: ClientConnection, kind: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        frame = json.loads(socket.recv(timeout=10))
        seen.append(frame)
        if frame.get("type") == kind:
            return seen


def test_broken_frames_get_an_error_and_the_socket_goes_on(live: Live) -> None:
    token = ""
    tally = {"sockets": 0, "frames": 0, "errors": 0, "acks": 0, "closed by the server": 0, "writes without an ack": 0}

    @budget(1)
    @given(st.lists(FRAMES, min_size=1, max_size=4), AFTER_IDS)
    def case(sent: list[bytes | str], after_id: int) -> None:
        nonlocal token
        token, ticket = _ticket(live, token)
        tally["sockets"] += 1
        with connect(live.url.replace("http", "ws") + "/ws/widget") as socket:
            socket.send(json.dumps({"type": "hello", "ticket": ticket, "after_id": after_id}))
            try:
                _until(socket, "ready")
            except ConnectionClosed as closed:
                # A hello the server will not take is refused with its own code, never an internal error.
                tally["closed by the server"] += 1
                assert closed.rcvd is not None and closed.rcvd.code not in (1011,), closed
                return
            before = live.rows()
            answers: list[dict[str, Any]] = []
            try:
                for frame in sent:
                    tally["frames"] += 1
                    socket.send(frame)
                socket.send(json.dumps({"type": "ping"}))
                answers = _until(socket, "pong")
            except ConnectionClosed as closed:
                tally["closed by the server"] += 1
                raise AssertionError(f"the server closed the socket: {closed}") from closed
            tally["errors"] += sum(frame.get("type") == "error" for frame in answers)
            acks = sum(frame.get("type") == "ack" for frame in answers)
            tally["acks"] += acks
            if not acks and live.rows() != before:
                tally["writes without an ack"] += 1
                raise AssertionError(f"rows written without an ack: {answers}")

    try:
        case()
    finally:
        record("hostile input, web chat socket frames",
               f"sockets {tally['sockets']}, frames {tally['frames']}, error frames {tally['errors']}, "
               f"acks {tally['acks']}, closed by the server {tally['closed by the server']}, "
               f"writes without an ack {tally['writes without an ack']}")


AFTER = st.one_of(st.just(""), st.integers(-5, 10**6).map(str), st.sampled_from([str(2**63), "9" * 5000, "x", "1e3"]))
PRESENCE = st.fixed_dictionaries({"presence": st.sampled_from(["viewing", "typing", "left"]) | JUNK_JSON,
                                  "thread_id": st.integers(-(2**70), 2**70) | JUNK_JSON}, optional={
                                      "kind": st.sampled_from(["reply", "note"]) | JUNK_JSON, "channel": JUNK_JSON})
AGENT_FRAMES = st.one_of(st.binary(max_size=200), st.text(max_size=200), JUNK_JSON.map(json.dumps),
                         PRESENCE.map(json.dumps), st.integers(1, 50_000).map(lambda n: "[" * n + "]" * n))


def _agent_cookie(live: Live) -> str:
    email = live.run(make_user(live.app.state.sessions, Role.agent))
    with live.client() as browser:
        form = browser.get("/login")
        signed = browser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)})
        assert signed.status_code == 303, signed.text
        return f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}"


def test_the_agents_live_socket_outlasts_hostile_frames(live: Live) -> None:
    """/live is for signed-in agents only, but a broken page or extension must not crash it either."""
    cookie = _agent_cookie(live)
    tally = {"sockets": 0, "frames": 0, "closed by the server": 0}

    @budget(0.5)
    @given(st.lists(AGENT_FRAMES, min_size=1, max_size=4), AFTER)
    def case(sent: list[bytes | str], after: str) -> None:
        tally["sockets"] += 1
        query = f"?after={after}" if after else ""
        with connect(live.url.replace("http", "ws") + "/live" + query, additional_headers={"Cookie": cookie}) as socket:
            try:
                while json.loads(socket.recv(timeout=10)).get("kind") != "live.ready":
                    pass
                for frame in sent:
                    tally["frames"] += 1
                    socket.send(frame)
                # Still listening: its own presence comes back through the hub.
                socket.send(json.dumps({"presence": "viewing", "thread_id": 424242}))
                while json.loads(socket.recv(timeout=10)).get("thread_id") != 424242:
                    pass
            except ConnectionClosed as closed:
                tally["closed by the server"] += 1
                raise AssertionError(f"the server closed the socket: {closed}") from closed

    try:
        case()
    finally:
        record("hostile input, agents' live socket frames",
               f"sockets {tally['sockets']}, frames {tally['frames']}, "
               f"closed by the server {tally['closed by the server']}")
