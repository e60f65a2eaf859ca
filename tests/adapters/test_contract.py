import inspect

import pytest

from adapters import REGISTRY
from inbox.channels import Channel
from tests.adapters.conftest import ROOT

FAKES = ROOT.parent / "fakes"
# Channels whose messages arrive some other way than a webhook: email over SMTP and IMAP, the
# web chat's frames over its own websocket.
NO_WEBHOOK = {Channel.email, Channel.webchat}


@pytest.mark.parametrize("channel", list(REGISTRY))
class TestEveryAdapter:
    def test_builds_with_no_arguments_and_names_its_channel(self, channel: Channel) -> None:
        adapter = REGISTRY[channel]()
        assert adapter.channel == channel
        assert bool(adapter.paths) != (channel in NO_WEBHOOK)
        assert all(path.startswith("/webhooks/") for path in adapter.paths)
        assert isinstance(adapter.configured, bool)
        for sync in ("verify", "parse", "acknowledge"):
            assert callable(getattr(adapter, sync))
        assert inspect.iscoroutinefunction(adapter.send)

    def test_every_recorded_fixture_is_used_by_a_test_or_a_fake(self, channel: Channel) -> None:
        fixtures = sorted((ROOT / channel / "fixtures").iterdir())
        assert fixtures, f"{channel} has no recorded fixtures"
        sources = [(ROOT / channel / f"test_{channel}.py").read_text()]
        sources += [fake.read_text() for fake in FAKES.glob("*.py")]
        unused = [f.name for f in fixtures if not any(f.name in source for source in sources)]
        assert unused == []
