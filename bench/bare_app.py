"""The baseline: bare FastAPI endpoints that read the same bodies and answer what the providers expect."""

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response

app = FastAPI()
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@app.post("/webhooks/twilio/whatsapp")
async def whatsapp(request: Request) -> Response:
    await request.form()
    return Response(TWIML, media_type="text/xml")


@app.post("/webhooks/messenger")
async def messenger(request: Request) -> Response:
    json.loads(await request.body())
    return Response("EVENT_RECEIVED")


@app.post("/webhooks/telegram")
async def telegram(request: Request) -> Response:
    json.loads(await request.body())
    return Response()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same three endpoints as plain ASGI, no framework: what uvicorn alone answers. onethread
    serves webhooks below FastAPI (web.routes.webhooks), so this shows how much of the gap the
    framework was; the goal stays the FastAPI endpoint above."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    path = scope["path"]
    if path == "/webhooks/twilio/whatsapp":
        parse_qs(body.decode(), keep_blank_values=True)
        answer, media_type = TWIML.encode(), b"text/xml"
    elif path in ("/webhooks/messenger", "/webhooks/telegram"):
        json.loads(body)
        answer, media_type = (b"EVENT_RECEIVED" if path == "/webhooks/messenger" else b""), b"text/plain"
    else:
        answer, media_type = b'{"status":"ok"}', b"application/json"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})
