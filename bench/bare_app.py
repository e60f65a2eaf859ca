"""The baseline: bare FastAPI endpoints that read the same bodies and answer what the providers expect."""

import json

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
