from pathlib import Path

from inbox.signing import secret_key, sign, valid


def test_without_a_configured_key_one_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = secret_key("", tmp_path / "data")
    assert first == secret_key("", tmp_path / "data") and len(first) == 64
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0
    assert secret_key("from-the-environment", tmp_path / "data") == b"from-the-environment"


def test_a_signature_holds_for_its_parts_only() -> None:
    signature = sign(b"k", "file", "7", "1700000000")
    assert valid(b"k", signature, "file", "7", "1700000000")
    assert not valid(b"k", signature, "file", "8", "1700000000")
    assert not valid(b"other", signature, "file", "7", "1700000000")
