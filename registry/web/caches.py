"""A small thread-safe LRU bounded in bytes, for answers keyed by the store's change id.

Every cache of rendered answers (pages, resolutions) keys its entries by the change id read
before the answer's data, so an entry can be newer than its key but never older: a write
anywhere moves the id and the next request misses. Entries are never invalidated, only
outgrown; `ttl` bounds how long one may live (pages showing relative times).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    def __init__(self, max_bytes: int, ttl: float | None = None) -> None:
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[V, int, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            value, _, expires = found
            if self.ttl is not None and expires < time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V, size: int) -> None:
        """Keep `value` (about `size` bytes); one entry over a quarter of the bound is not
        kept, so a huge answer cannot flush everything else."""
        if size > self.max_bytes // 4:
            return
        expires = time.monotonic() + self.ttl if self.ttl is not None else 0.0
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (value, size, expires)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        self._bytes -= self._entries.pop(key)[1]

    def __len__(self) -> int:
        return len(self._entries)
