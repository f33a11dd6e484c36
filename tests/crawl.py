"""Walking pages as a signed-in person: collect the links a page offers (its navs, or every link) and
follow them, so a test can say "every link this person is shown answers 200" or "every page in this
list shows the right date" without naming each URL by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

MAX_HOPS = 5  # redirects followed before a link counts as broken


class _Links(HTMLParser):
    """hrefs of <a> elements, each tagged with whether it sits inside <header> or <nav> and inside <main>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = {"header": 0, "nav": 0, "main": 0}
        self.found: list[tuple[str, bool, bool]] = []  # (href, in a nav or the header, in main)

    def handle_starttag(self, tag, attrs):
        if tag in self.depth:
            self.depth[tag] += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.found.append((href, bool(self.depth["header"] or self.depth["nav"]), bool(self.depth["main"])))

    def handle_endtag(self, tag):
        if tag in self.depth and self.depth[tag]:
            self.depth[tag] -= 1


def _internal(href: str) -> str | None:
    """The same-site path and query of a link (fragments dropped), None for other sites and mailto: etc."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def nav_links(html: str) -> list[str]:
    """Links in the page's header and its <nav> elements (the menus)."""
    parser = _Links()
    parser.feed(html)
    return _unique(_internal(h) for h, in_nav, _ in parser.found if in_nav)


def main_links(html: str) -> list[str]:
    """Links in the page's <main> (its content)."""
    parser = _Links()
    parser.feed(html)
    return _unique(_internal(h) for h, _, in_main in parser.found if in_main)


def all_links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return _unique(_internal(h) for h, _, _ in parser.found)


def same_page(url: str) -> str:
    """What makes two links the same visit: ``next=`` (where to come back to, as in the language
    switch on every page) does not count."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "next"])
    return parts.path + (f"?{query}" if query else "")


def _unique(paths) -> list[str]:
    return list(dict.fromkeys(p for p in paths if p))


@dataclass
class Visit:
    url: str
    status: int  # of the last response, after redirects
    text: str
    hops: list[str] = field(default_factory=list)  # where the redirects went


async def visit(client, url: str) -> Visit:
    """GET ``url`` following up to MAX_HOPS same-site redirects (each hop recorded)."""
    hops: list[str] = []
    response = await client.get(url, follow_redirects=False)
    while response.status_code in (301, 302, 303, 307, 308) and len(hops) < MAX_HOPS:
        target = _internal(response.headers.get("location", ""))
        if target is None:
            break
        hops.append(target)
        response = await client.get(target, follow_redirects=False)
    return Visit(url=url, status=response.status_code, text=response.text, hops=hops)


async def walk(client, urls, *, also=nav_links, seen: set[str] | None = None) -> dict[str, Visit]:
    """Visit each URL, then the links ``also`` finds on each page reached (None: none), each page once
    (``same_page``; ``seen`` carries that over between walks). Links are reads: a GET changes nothing."""
    seen = set() if seen is None else seen
    queue, out = list(urls), {}
    while queue:
        url = queue.pop(0)
        if same_page(url) in seen:
            continue
        seen.add(same_page(url))
        out[url] = v = await visit(client, url)
        if also is not None and v.status == 200:
            queue.extend(also(v.text))
    return out


def broken(visits: dict[str, Visit]) -> dict[str, str]:
    """The visits that did not end in a 200: {url: "status via hops"}."""
    return {u: f"{v.status} via {v.hops}" for u, v in visits.items() if v.status != 200}
