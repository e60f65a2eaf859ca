"""Files made for one download (a customer's export), sent and then deleted."""

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from inbox.customers.export import Exported


def export_response(made: Exported) -> FileResponse:
    # Deleted once sent: the zip holds a person's whole record and must not pile up on disk.
    return FileResponse(made.path, media_type="application/zip", filename=made.filename,
                        content_disposition_type="attachment",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
                        background=BackgroundTask(made.path.unlink, missing_ok=True))
