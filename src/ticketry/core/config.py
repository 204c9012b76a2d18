"""Configuration from the environment (`TICKETRY_*`) and an optional `.env` file."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import ByteSize, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETRY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./ticketry.db"
    secret_key: str = Field(
        default="dev-insecure-change-me",
        description="Signs tokens and message ids; set a long random value in production.",
    )
    ticket_prefix: str = Field(default="TICK", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    # Background work: run the job worker inside the web process (single node default).
    inprocess_worker: bool = True
    worker_poll_seconds: float = 0.5
    job_max_attempts: int = 8
    job_lease_seconds: int = 300
    # Login throttling (docs/product.md §1, issue: ticket core).
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_window_seconds: int = 900
    session_days: int = 14
    # Customers may create their own accounts in the portal.
    allow_signup: bool = True
    # Send session cookies only over HTTPS (turn on behind TLS).
    secure_cookies: bool = False
    # Where `npm ci` put the front-end packages (default: node_modules next to the source tree).
    assets_dir: str = ""
    log_level: str = "INFO"

    # Attachments (docs/product.md §5). Local directory by default; `s3://bucket/prefix` for object storage.
    storage_url: str = "./data/attachments"
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    attachment_max_file_size: ByteSize = Field(default=ByteSize(50 * 1024 * 1024), gt=0)
    attachment_max_ticket_size: ByteSize = Field(default=ByteSize(200 * 1024 * 1024), gt=0)
    # Which kinds of file are accepted (names from `ticketry.attachments.kinds.KINDS`); empty = all.
    attachment_types: str = ""
    # Virus scanning through clamd's INSTREAM: `tcp://host:3310` or `unix:///run/clamav/clamd.ctl`.
    clamav_url: str = ""
    clamav_timeout_seconds: float = Field(default=30.0, gt=0)
    # When the scanner is configured but unreachable: refuse uploads (true) or store unscanned.
    clamav_required: bool = True
    # Files of deleted tickets and messages are purged this many days after the deletion
    # (admins can change it at run time in the settings).
    attachment_retention_days: int = Field(default=30, ge=0, le=36500)

    # Outgoing mail (docs/product.md §4). Without a host no mail is sent; what would have been is logged.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # The From of every mail, and the domain of our Message-IDs and reply addresses.
    mail_from: str = "Ticketry Support <support@localhost>"
    mail_max_attempts: int = Field(default=10, ge=1, le=100)
    # Where links in mail point (the address users open Ticketry at).
    public_url: str = "http://127.0.0.1:8000"

    # Incoming mail (docs/product.md §4). Mail larger than this is not fetched (IMAP) or refused (webhook).
    mail_max_message_size: ByteSize = Field(default=ByteSize(40 * 1024 * 1024), gt=0)
    # An extra CA bundle for IMAP servers with a private certificate authority.
    mail_ca_file: str = ""
    # More mails than this from one sender in an hour are held as a probable loop.
    mail_max_per_sender_per_hour: int = Field(default=30, ge=1)
    # Mail identity (docs/product.md §4, docs/configuration.md#who-a-mail-may-act-for). The authserv-ids of
    # the receiving mail servers whose `Authentication-Results` headers are believed (comma
    # separated, e.g. `mx.example.com`); any other such header is ignored, as anyone can write one.
    mail_trusted_authserv_ids: str = ""
    # Customers' mail on a ticket: `proof` (default) needs a clue only their mailbox got (their
    # signed reply address, a Message-ID of the ticket's mail) or a trusted pass, and holds mail a
    # trusted result says is forged; `pass` needs a trusted pass; `not_failed` holds only what a
    # trusted result says is forged (the ticket number in the subject is then enough); `none`
    # ignores results.
    mail_customer_auth: Literal["proof", "pass", "not_failed", "none"] = "proof"
    # Staff acting by mail (a note by replying to a notification): `pass` needs their own signed
    # reply address and a passing trusted result; `address` needs only the address (for mail
    # servers that add no Authentication-Results: anyone who sees a staff mail could then write as
    # that person); `never` holds all of it for review.
    mail_staff_auth: Literal["pass", "address", "never"] = "pass"

    # Credentials and sign-up (issue 12, docs/configuration.md#client-addresses-and-sign-up).
    # Reverse proxies whose `X-Forwarded-For` is believed: IPs or CIDRs, comma separated; none by
    # default (the direct peer is the client).
    trusted_proxies: str = ""
    # Sign-ups per client address, and from everywhere together, within the window (429 beyond).
    signup_max_per_ip: int = Field(default=5, ge=1)
    signup_max_total: int = Field(default=100, ge=1)
    signup_window_seconds: int = Field(default=3600, ge=1)

    def model_post_init(self, context: object, /) -> None:
        """A malformed proxy list stops the start, rather than throttling everyone as one client."""
        from ipaddress import ip_network

        for part in self.trusted_proxies.replace(",", " ").split():
            ip_network(part, strict=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
