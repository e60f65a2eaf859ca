"""The short form CI runs; `python -m tests.soak --webhooks 10000` is the long one (docs/reliability.md)."""

from tests.soak.crash import run
from tests.soak.figures import record


async def test_webhooks_streamed_through_three_kills_are_each_stored_exactly_once(db_url, tmp_path) -> None:
    figures = await run(db_url, webhooks=900, kills=3, data_dir=tmp_path / "data")
    record("webhooks under kill -9", figures.line())
    assert figures.kills == 3
    assert (figures.sent, figures.stored, figures.lost, figures.duplicated) == (900, 900, 0, 0)
    # The kills cut requests off: some webhooks had to be sent again, as a provider would.
    assert figures.attempts > figures.sent
