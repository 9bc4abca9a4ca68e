"""Static assets: content-hashed URLs cached for a year, anything else revalidated."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.pages.conftest import soup


def fetch(client, url: str):
    """GET a file and close it (the test client leaves send_file's file open otherwise)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def asset_urls(client) -> list[str]:
    page = soup(client.get("/"))
    links = [tag["href"] for tag in page.select("link[rel=stylesheet]")]
    return links + [tag["src"] for tag in page.select("script[src]")]


def test_pages_link_assets_by_content_digest(app, client):
    urls = asset_urls(client)
    assert len(urls) == 5  # app.css, htmx, app.js, feedback.js, times.js
    css = next(u for u in urls if "app.css" in u)
    digest = hashlib.sha256((Path(app.static_folder) / "css/app.css").read_bytes()).hexdigest()
    assert css == f"/static/css/app.css?v={digest[:12]}"
    for url in urls:
        assert "?v=" in url, url


def test_hashed_url_is_immutable_for_a_year(client):
    for url in asset_urls(client):
        response = fetch(client, url)
        assert response.status_code == 200, url
        cache = response.cache_control
        assert cache.immutable and cache.public and cache.max_age == 365 * 24 * 3600, url
        assert not cache.no_cache


@pytest.mark.parametrize("query", ["", "?v=0123456789ab"])
def test_unhashed_or_stale_url_is_revalidated(client, query):
    """An old page asking for an old digest gets today's file, never a year-long pin."""
    response = fetch(client, f"/static/js/app.js{query}")
    assert response.status_code == 200
    assert not response.cache_control.immutable
    assert response.cache_control.no_cache


def test_changed_file_gets_a_new_url(app, client, tmp_path):
    """Edit a static file: the next page links a new digest (dev servers need no restart)."""
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    target = static / "css" / "app.css"
    target.write_text("body { color: red }")
    app.static_folder = str(static)
    before = next(u for u in asset_urls(client) if "app.css" in u)
    target.write_text("body { color: blue }")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    after = next(u for u in asset_urls(client) if "app.css" in u)
    assert before != after
    assert fetch(client, after).get_data(as_text=True) == "body { color: blue }"


def test_unknown_vendor_file_is_404(client):
    assert client.get("/vendor/jquery.js").status_code == 404
