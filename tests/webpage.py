"""Helpers for the web page's route tests: a small HTML reader, the CSRF token, and a client.

    from webpage import Page, csrf, inner, make_client
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient

from announcer.station.by_hand import Controls
from announcer.web import Site, create_app
from announcer.web.security import SESSION_COOKIE


class Page(HTMLParser):
    """Elements of a page as {tag, attrs, text}, enough to find things by id, class and attribute."""

    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self, html: str):
        super().__init__()
        self.elements, self.open = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": []}
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open and self.open.pop()["tag"] != tag:
            pass

    def handle_data(self, data):
        for element in self.open:
            element["text"].append(data)

    def all(self, tag: str, cls: str | None = None, **attrs) -> list[dict]:
        """Elements with this tag, class and attributes (`data_x=` matches `data-x`), text whitespace-joined."""
        return [{**e, "text": " ".join("".join(e["text"]).split())} for e in self.elements
                if e["tag"] == tag and (not cls or cls in e["attrs"].get("class", "").split())
                and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def one(self, tag: str, cls: str | None = None, **attrs) -> dict:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, found)
        return found[0]


def inner(html: str, tag: str, id: str) -> Page:
    """The elements inside <tag id=...> (up to its first closing tag: not for nested ones of the same tag)."""
    return Page(re.search(rf'<{tag}[^>]*id="{id}"[^>]*>(.*?)</{tag}>', html, re.S).group(1))


def csrf(source) -> str:
    """The CSRF token: from a client's session (made on first use), a response, a Page or a page's HTML."""
    if isinstance(source, TestClient):
        if SESSION_COOKIE not in source.cookies:
            source.get("/static/app.css")          # public: it only hands out the session cookie
        return source.app.state.site.guard.csrf_token(source.cookies[SESSION_COOKIE])
    if isinstance(source, Page):
        return source.all("input", name="csrf")[0]["attrs"]["value"]       # every form holds the same one
    html = getattr(source, "text", source)
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def make_client(config_text: str | None, tmp_path: Path, *, out: Path | None = None, now: datetime | None = None,
                lang: str = "en", host: str = "127.0.0.1", base_url: str = "http://127.0.0.1:8080") -> TestClient:
    """A client of a page whose schedule.toml (in tmp_path) holds `config_text`; None: no settings file
    (the page then looks in the working directory). `out` defaults to tmp_path/out; `now` fixes the clock."""
    path = None
    if config_text is not None:
        path = tmp_path / "schedule.toml"
        path.write_text(config_text, encoding="utf-8")
    site = Site(path, out if out is not None else tmp_path / "out", host=host,
                clock=(lambda: now) if now is not None else None)
    site.controls = Controls(site.out, site.config)      # as `announcer serve` gives it
    client = TestClient(create_app(site), base_url=base_url)
    client.cookies.set("lang", lang)
    return client
