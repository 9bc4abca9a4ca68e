"""Configuration: defaults, environment variables, instance folder secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULTS: dict[str, Any] = {
    "REGISTRY_DEFAULT_REGISTRY": "default",
    "REGISTRY_MIDDLEWARE_DEFINITIONS": "",  # path to a definitions file; empty = shipped ones
    "REGISTRY_SEED_FILES": "",  # files imported at start-up, managed (read-only) by that file
    "REGISTRY_STORE": "",  # e.g. yaml:/path/profiles.yaml (wins over DATABASE_URL)
    "DATABASE_URL": "",  # sqlite:///path.db or postgresql://...; empty = instance SQLite
    "REGISTRY_MAX_IMPORT_BYTES": 16 * 1024 * 1024,
    "REGISTRY_COOKIE_SECURE": True,  # chat_profile cookie `Secure`; false for plain-HTTP dev
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "REGISTRY_BENCH_ROUTES": False,  # GET /-/hello, the benchmark's floor (profile-registry bench)
    "REGISTRY_AUTH": "on",  # "off": no tokens needed (trusted local setups; the UI says so)
    "REGISTRY_PUBLIC_READS": True,  # chat-contract reads, resolve and select without a token
    # Create and print an admin token on first start: "auto" = yes, except in TESTING mode.
    "REGISTRY_BOOTSTRAP_ADMIN": "auto",
    "REGISTRY_TOKEN_STORE": "",  # SQL URL for tokens; empty = the SQL store or instance/tokens.db
    "REGISTRY_BASE_URL": "",  # e.g. https://registry.example.com: printed links; Secure cookies
    "REGISTRY_SESSION_IDLE_MINUTES": 8 * 60,  # a UI session ends after this long without use
    "REGISTRY_SESSION_LIFETIME_HOURS": 7 * 24,  # and this long after login, whatever happens
    "REGISTRY_LOGIN_LINK_MINUTES": 15,  # one-time login links expire after this
    "REGISTRY_PAGE_CACHE_MB": 32.0,  # rendered pages kept per process (README, Performance); 0 = off
    # Change notifications (README, Change notifications)
    "REGISTRY_STREAM_MAX_CONNECTIONS": 0,  # open streams per worker process; 0 = threads // 2
    "REGISTRY_STREAM_HEARTBEAT_SECONDS": 15.0,  # a comment line when nothing changed
    "REGISTRY_STREAM_POLL_SECONDS": 0.25,  # how often a stream reads the change feed
    "REGISTRY_STREAM_MAX_SECONDS": 300.0,  # a stream ends then; clients resume (Last-Event-ID)
    "REGISTRY_WEBHOOK_ALLOW_HOSTS": "",  # hosts exempt from the private-address refusal
    "REGISTRY_WEBHOOK_WORKER": "auto",  # deliver in this process: auto = not when TESTING
    "REGISTRY_WEBHOOK_TIMEOUT_SECONDS": 5.0,  # connect + response time-out per attempt
    "REGISTRY_WEBHOOK_RETRY_BASE_SECONDS": 5.0,  # first retry delay; doubles, capped at 1 h
    "REGISTRY_WEBHOOK_RETRY_HOURS": 24.0,  # an event is retried this long, then failed
    "REGISTRY_WEBHOOK_DISABLE_AFTER": 20,  # consecutive failed attempts disable a subscription
}

ENV_KEYS = [k for k in DEFAULTS if k != "MAX_CONTENT_LENGTH"]


def from_environ(environ: os._Environ[str] | dict[str, str] = os.environ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ENV_KEYS:
        if key in environ:
            value: Any = environ[key]
            if isinstance(DEFAULTS[key], bool):
                value = flag(environ, key)  # a typo fails the start instead of meaning false
            elif isinstance(DEFAULTS[key], int):
                value = int(value)
            elif isinstance(DEFAULTS[key], float):
                value = float(value)
            out[key] = value
    return out


def flag(config: Any, key: str, default: bool = False) -> bool:
    """A boolean setting given as a bool or as "true/false/1/0/on/off/yes/no" (any case)."""
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "on", "yes"):
        return True
    if text in ("false", "0", "off", "no"):
        return False
    raise ValueError(f"{key} must be true or false (got {value!r})")


def auth_enabled(config: Any) -> bool:
    """`REGISTRY_AUTH` (default on), read by `flag` like every other switch: `no` is off."""
    return flag(config, "REGISTRY_AUTH", True)


def base_url(config: Any, host: str | None = None, port: int | str | None = None) -> str:
    """Where users reach the server: REGISTRY_BASE_URL, else the host and port being served
    (a wildcard address becomes 127.0.0.1), else http://127.0.0.1:5000 (`run`'s default)."""
    configured = str(config.get("REGISTRY_BASE_URL") or "").strip()
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"REGISTRY_BASE_URL must be an http:// or https:// URL (got {configured!r})"
            )
        return configured.rstrip("/")
    host = host or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port or 5000}"


def store_url(config: dict[str, Any], instance_path: str) -> str:
    """Where data lives: REGISTRY_STORE, else DATABASE_URL, else SQLite in the instance folder."""
    if config.get("REGISTRY_STORE"):
        return str(config["REGISTRY_STORE"])
    if config.get("DATABASE_URL"):
        return str(config["DATABASE_URL"])
    return f"sqlite:///{Path(instance_path) / 'registry.db'}"


def instance_secret(instance_path: str) -> str:
    """A secret key generated once and kept in the instance folder (never in the repository)."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def seed_files(value: str) -> list[str]:
    return [p.strip() for p in value.replace(os.pathsep, ",").split(",") if p.strip()]
