"""Store implementations behind the domain's `Store` protocol, chosen by URL.

Backends are imported lazily: a YAML-only deployment never loads peewee, and each backend's
import errors surface only when it is asked for.
"""

from __future__ import annotations

from pathlib import Path

from ..domain.ports import Store

SQL_SCHEMES = ("sqlite", "postgres", "postgresql")


def open_store(url: str) -> Store:
    """Open the store named by `url`; its `url` attribute reopens the same data.

    - `sqlite:////absolute/path.db` (parent directories are created), `sqlite:///:memory:`
    - `postgresql://user@host:5432/db` (or `postgres://`); query parameters go to libpq
    - `yaml:/path/to/file.yaml`
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "yaml":
        from .yaml_store import YAMLFileStore

        path = url[len("yaml:") :]
        if not path:
            raise ValueError("YAML store URLs look like yaml:/path/to/file.yaml")
        return YAMLFileStore(Path(path))
    if scheme in SQL_SCHEMES:
        from .sql_store import SQLStore

        return SQLStore(url)
    raise ValueError(
        f'unsupported store URL scheme "{scheme}": use sqlite:///..., postgresql://... or yaml:...'
    )


__all__ = ["open_store"]
