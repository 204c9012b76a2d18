"""Configuration from the environment (`TICKETRY_*`) and an optional `.env` file."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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
    # Login throttling (SPEC §1, issue: ticket core).
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
