"""The baseline: a bare FastAPI endpoint that reads the same form and answers the same TwiML."""

from fastapi import FastAPI, Request, Response

app = FastAPI()
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@app.post("/webhooks/twilio/whatsapp")
async def whatsapp(request: Request) -> Response:
    await request.form()
    return Response(TWIML, media_type="text/xml")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
