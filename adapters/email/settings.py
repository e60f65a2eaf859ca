from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class EmailSettings(BaseSettings):
    # Names as the issue fixes them (SMTP_…, IMAP_…, SUPPORT_ADDRESSES): no single prefix fits.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # The shop's support addresses, comma-separated. Mail to any of them (or to their +tag forms)
    # is accepted; any other recipient gets 550, so the listener is never an open relay. The
    # first one is the From of our replies unless SMTP_FROM says otherwise.
    support_addresses: str = Field(default="", validation_alias="SUPPORT_ADDRESSES")
    # The built-in listener; 0 turns it off (IMAP polling, or no inbound mail at all).
    listen_port: int = Field(default=2525, validation_alias="SMTP_LISTEN_PORT")
    # Loopback unless told otherwise: a forwarding MTA on this host is the usual way in.
    listen_host: str = Field(default="127.0.0.1", validation_alias="SMTP_LISTEN_HOST")
    max_message_bytes: int = Field(default=32 * 1024 * 1024, validation_alias="SMTP_MAX_MESSAGE_BYTES")

    # Outbound: the relay our replies go through (the shop's provider, or a local MTA).
    smtp_host: str = Field(default="", validation_alias="SMTP_HOST")
    smtp_port: int = Field(default=587, validation_alias="SMTP_PORT")
    smtp_username: str = Field(default="", validation_alias="SMTP_USERNAME")
    smtp_password: SecretStr = Field(default=SecretStr(""), validation_alias="SMTP_PASSWORD")
    # "auto": STARTTLS when the relay offers it; "require": refuse to send without it;
    # "tls": implicit TLS from the first byte (port 465); "off": plain text (a local MTA only).
    smtp_security: str = Field(default="auto", validation_alias="SMTP_SECURITY")
    # A CA bundle for a relay whose certificate no public CA signed (a company's own).
    smtp_ca_file: str = Field(default="", validation_alias="SMTP_CA_FILE")
    smtp_from: str = Field(default="", validation_alias="SMTP_FROM")
    # Shown beside the support address when the reply has no agent name (API replies).
    smtp_from_name: str = Field(default="", validation_alias="SMTP_FROM_NAME")
    # Well under DELIVERY_LEASE_SECONDS, so a slow relay is a retry rather than an interrupted send.
    smtp_timeout_seconds: float = Field(default=30.0, validation_alias="SMTP_TIMEOUT_SECONDS")

    # Optional: poll an existing mailbox instead of (or beside) the listener.
    imap_host: str = Field(default="", validation_alias="IMAP_HOST")
    imap_port: int = Field(default=993, validation_alias="IMAP_PORT")
    imap_user: str = Field(default="", validation_alias="IMAP_USER")
    imap_password: SecretStr = Field(default=SecretStr(""), validation_alias="IMAP_PASSWORD")
    imap_mailbox: str = Field(default="INBOX", validation_alias="IMAP_MAILBOX")
    # False only for a server on loopback (and the tests' fake): credentials would cross in clear.
    imap_ssl: bool = Field(default=True, validation_alias="IMAP_SSL")
    imap_poll_seconds: float = Field(default=60.0, validation_alias="IMAP_POLL_SECONDS")

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(part.strip().casefold() for part in self.support_addresses.split(",") if part.strip())

    def accepts(self, recipient: str) -> bool:
        """Whether mail to this address is ours: a support address, or one with a +tag."""
        local, at, domain = recipient.strip().strip("<>").casefold().rpartition("@")
        return bool(at) and f"{local.split('+', 1)[0]}@{domain}" in self.addresses

    @property
    def from_address(self) -> str:
        return self.smtp_from.strip() or (self.addresses[0] if self.addresses else "")

    @property
    def listening(self) -> bool:
        return self.listen_port != 0 and bool(self.addresses)

    @property
    def polling(self) -> bool:
        return bool(self.imap_host and self.imap_user)
