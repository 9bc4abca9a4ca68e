"""HTML pages measured as a person meets them: the import dry-run page of a large document.

A browser's steps, with the standard library only: GET /import for the session cookie and
the form's CSRF token, then POST the document as an uploaded file (what an operator does with
a file this size; a pasted text field is capped by `MAX_FORM_MEMORY_SIZE`) with
`action=dry-run`, as a plain form post (the whole page) and as htmx sends it (`HX-Request`:
the result block), alternately, on one keep-alive connection, each after one unmeasured
warm-up: the figures are a person's wait, not throughput. The server
runs with REGISTRY_AUTH=off (see `server.py`), so no login is needed; CSRF is on.
"""

from __future__ import annotations

import http.client
import re
import time
import uuid
from typing import Any

from .report import median
from .seed import import_document

IMPORT_PAGE_PROFILES = 2_000
QUICK_IMPORT_PAGE_PROFILES = 200
IMPORT_PAGE_TARGET_BYTES = 300 * 1024  # issue 11: the 2,000-profile dry-run page
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_CREATED = re.compile(r'counts-created"><div class="stat">([\d,]+)<')  # the plan's count


class PageError(RuntimeError):
    pass


def _multipart(fields: dict[str, str], filename: str, document: str) -> tuple[bytes, str]:
    boundary = f"bench-{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/yaml\r\n\r\n{document}\r\n--{boundary}--\r\n"
    )
    return "".join(parts).encode("utf-8"), f"multipart/form-data; boundary={boundary}"


class _Browser:
    """One keep-alive connection with a cookie jar of one cookie (the session)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, float]:
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        for value in response.headers.get_all("Set-Cookie") or []:
            self.cookie = value.split(";", 1)[0]
        return response.status, data, elapsed

    def close(self) -> None:
        self.conn.close()


def measure_import_page(port: int, profiles: int, repeats: int) -> dict[str, Any]:
    """The dry-run page of a `profiles`-profile document (a new registry: every profile is a
    create), as a whole page and as the htmx fragment: bytes, and latency over `repeats`."""
    document = import_document(profiles)
    browser = _Browser(port)
    try:
        status, page, _ = browser.request("GET", "/import")
        match = _TOKEN.search(page.decode("utf-8", "replace"))
        if status != 200 or match is None:
            raise PageError(f"GET /import answered {status} without a CSRF token")
        token = match.group(1) or match.group(2)
        body, content_type = _multipart(
            {"csrf_token": token, "action": "dry-run", "mode": "upsert"}, "bulk.yaml", document
        )
        out: dict[str, Any] = {
            "profiles": profiles,
            "document_bytes": len(document.encode("utf-8")),
            "repeats": repeats,
            "target_bytes": IMPORT_PAGE_TARGET_BYTES,
        }
        variants = {"page": {}, "fragment": {"HX-Request": "true"}}
        timings: dict[str, list[float]] = {name: [] for name in variants}
        last: dict[str, bytes] = {}
        for i in range(repeats + 1):  # the first of each is a warm-up; alternated, so
            for name, extra in variants.items():  # drifting machine load hits both alike
                headers = {"Content-Type": content_type, **extra}
                status, data, ms = browser.request("POST", "/import", body, headers)
                if status != 200:
                    raise PageError(f"POST /import ({name}) answered {status}: {data[:300]!r}")
                if i:
                    timings[name].append(ms)
                last[name] = data
        for name, data in last.items():
            created = _CREATED.search(data.decode("utf-8", "replace"))
            out[name] = {
                "bytes": len(data),
                "p50_ms": round(median(timings[name]), 1),
                "min_ms": round(min(timings[name]), 1),
                "max_ms": round(max(timings[name]), 1),
                "created_shown": created.group(1) if created else "",
            }
        out["passed"] = out["page"]["bytes"] < IMPORT_PAGE_TARGET_BYTES
        return out
    finally:
        browser.close()


def format_import_page(figures: dict[str, Any]) -> str:
    if "error" in figures:
        return f"import dry-run page: not measured ({figures['error']})"
    page, fragment = figures["page"], figures["fragment"]
    verdict = "pass" if figures["passed"] else "MISS"
    return (
        f"import dry-run page of {figures['profiles']:,} profiles "
        f"({figures['document_bytes']:,}-byte upload, {figures['repeats']} runs each): "
        f"page {page['bytes']:,} bytes, p50 {page['p50_ms']:,.0f} ms "
        f"(min {page['min_ms']:,.0f}, max {page['max_ms']:,.0f}); htmx fragment "
        f"{fragment['bytes']:,} bytes, p50 {fragment['p50_ms']:,.0f} ms; "
        f"target page < {figures['target_bytes'] // 1024} KB: {verdict}"
    )
