"""The pages bench/throughput.py measures, each as one ready request (cookies, CSRF token, body), and
the mix of them it sends at fixed rates. Prepared against the running product with the demo loaded:
sign in once per user and reuse the session cookie; one request of each checked before any load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from loadgen import Target

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
FORM = ("Content-Type", "application/x-www-form-urlencoded")
OPINION_TENANT = "yuci"  # opinions go to the other demo county: 三台县's lists stay the same size
LOGIN_USER = "santai-viewer"
# The county's case settings (app.cases.settings.CASE_CONFIG_RANGES): the public form's limits at
# the highest values the settings page takes.
RAISED_LIMITS = {"public_limit_per_client": "1000", "public_limit_per_station": "100000"}
CASE_SETTINGS = ("case_reply_days", "case_feedback_days", "case_rehandle_limit", "case_rating_days",
                 "public_limit_per_client", "public_limit_per_station")
# The mixed load: mostly the public pages people open from a station's poster, then staff at work;
# a sign-in for every ~25 staff pages, a few opinions sent.
MIX = {"public county page": 15, "public station page": 28, "tenant home": 15, "deputies list": 10,
       "a case page": 10, "cases list": 10, "compliance board": 7, "login POST": 2, "public opinion POST": 3}


@dataclass
class Page:
    label: str
    target: Target
    baseline: Target  # the baseline request it is compared with (a POST with the same body for a POST)
    expect: int
    # the same kind of work on the bare stack (bench/baseline_app.py: a login that hashes, a committed
    # write), measured and printed beside the ratio to the bare page, never instead of it
    shape: Target | None = None


@dataclass
class Prepared:
    pages: list[Page]
    baseline_get: Target
    mix: list[tuple[Page, int]]
    notes: list[str] = field(default_factory=list)


def _cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in client.cookies.jar)


def _first(pattern: str, text: str, what: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise SystemExit(f"could not find {what} in the demo (pattern {pattern})")
    return found.group(1)


def _raise_opinion_limits(base: str, password: str, sign_in) -> None:
    """As 榆次区's county admin, through the county's case settings page (the documented setting)."""
    admin = sign_in(base, f"{OPINION_TENANT}-admin", password)
    if admin is None:
        raise SystemExit(f"could not sign in as {OPINION_TENANT}-admin")
    path = f"/t/{OPINION_TENANT}/settings/case-rules"
    form = admin.get(path).text
    values = {name: _first(rf'name="{name}" value="([^"]*)"', form, name) for name in CASE_SETTINGS}
    values.update(RAISED_LIMITS)
    r = admin.post(path, data={**values, "_csrf_token": _first(CSRF.pattern, form, "a CSRF token")})
    if r.status_code != 303:
        raise SystemExit(f"could not raise the opinion limits: {r.status_code}")
    admin.close()


def _login_target(base: str, password: str, headers: tuple) -> Target:
    """One CSRF cookie and its form token, reused by every login POST (Litestar checks the pair)."""
    with httpx.Client(base_url=base, timeout=20) as client:
        token = _first(CSRF.pattern, client.get("/login").text, "the login form's CSRF token")
        cookie = _cookie_header(client)
    body = urlencode({"login": LOGIN_USER, "password": password, "_csrf_token": token}).encode()
    return Target("POST", "/login", (*headers, FORM, ("Cookie", cookie)), body)


def _check(base: str, page: Page) -> str | None:
    """One request of the page as wrk will send it: None if it answers as expected, else why not."""
    headers = dict(page.target.headers)
    if page.target.spread_addresses:
        headers["X-Forwarded-For"] = "10.255.255.254"
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.request(page.target.method, page.target.path, headers=headers, content=page.target.body or None)
    return None if r.status_code == page.expect else f"answered {r.status_code}, not {page.expect}"


def _ids(base: str, password: str, sign_in) -> dict[str, str]:
    """The demo's records the pages name, as their own pages link them; and the staff cookie."""
    with httpx.Client(base_url=base, timeout=30) as anon:
        station = _first(r"/p/santai/stations/(\d+)", anon.get("/p/santai/").text, "a public station of 三台县")
        others = re.findall(rf"/p/{OPINION_TENANT}/stations/(\d+)", anon.get(f"/p/{OPINION_TENANT}/").text)
        if not others:
            raise SystemExit("could not find a public station of 榆次区 in the demo")
    admin = sign_in(base, "santai-admin", password)
    if admin is None:
        raise SystemExit("could not sign in as santai-admin")
    admin.get("/t/santai/")  # the first entry into a tenant writes an audit row; every later one does not
    case = _first(r"/t/santai/cases/(\d+)", admin.get("/t/santai/cases").text, "a case of 三台县")
    cookie = _cookie_header(admin)
    admin.close()
    return {"station": station, "others": sorted(set(others), key=int), "case": case, "cookie": cookie}


def _pages(base: str, password: str, common: tuple, ids: dict[str, str]) -> tuple[list[Page], Target]:
    staff = (*common, ("Cookie", ids["cookie"]))
    get = Target("GET", "/baseline", common)
    login = _login_target(base, password, common)
    opinion = urlencode({"content": "村口路灯坏了两个月，晚上出行不便，请尽快修理。", "person_name": "",
                         "person_mobile": "", "website": ""}).encode()
    opinion_paths = tuple(f"/p/{OPINION_TENANT}/stations/{i}/opinion" for i in ids["others"])
    return [
        Page("public county page", Target("GET", "/p/santai/", common), get, 200),
        Page("public station page", Target("GET", f"/p/santai/stations/{ids['station']}", common), get, 200),
        Page("tenant home", Target("GET", "/t/santai/", staff), get, 200),
        Page("deputies list", Target("GET", "/t/santai/deputies", staff), get, 200),
        Page("a case page", Target("GET", f"/t/santai/cases/{ids['case']}", staff), get, 200),
        Page("cases list", Target("GET", "/t/santai/cases", staff), get, 200),
        Page("compliance board", Target("GET", "/t/santai/compliance", staff), get, 200),
        Page("login POST", login, Target("POST", "/baseline", (*common, FORM), login.body), 303,
             shape=Target("POST", "/baseline/login", (*common, FORM), login.body)),
        Page("public opinion POST", Target("POST", opinion_paths[0], (*common, FORM), opinion, spread_addresses=True,
                                           paths=opinion_paths),
             Target("POST", "/baseline", (*common, FORM), opinion), 200,
             shape=Target("POST", f"/baseline/opinion/{OPINION_TENANT}/{ids['others'][0]}", (*common, FORM), opinion,
                          spread_addresses=True,
                          paths=tuple(f"/baseline/opinion/{OPINION_TENANT}/{i}" for i in ids["others"]))),
    ], get


def prepare(base: str, password: str, sign_in, accept_encoding: str, *, own_product: bool) -> Prepared:
    common = (("Accept", "text/html,application/xhtml+xml"), ("Accept-Encoding", accept_encoding),
              ("User-Agent", "lianluo-throughput"))
    notes = []
    ids = _ids(base, password, sign_in)
    if own_product:
        _raise_opinion_limits(base, password, sign_in)
        notes.append("public opinion POST: the form's limits (per address and per station an hour) were raised "
                     "to 1000 and 100000 for 榆次区 through its case settings page, and each opinion is sent "
                     "from its own address in X-Forwarded-For (the product trusts the bench as its proxy, "
                     "LIANLUO_TRUSTED_PROXIES=127.0.0.1, as it trusts nginx), to 榆次区's stations in turn, as "
                     "villagers send to their own stations (one station's opinions are counted one after the "
                     "other, under a lock, for its hourly limit); each writes a case of 榆次区")
    else:
        notes.append("public opinion POST: the running product's limits apply (answers 429 count as errors, "
                     "unless it trusts 127.0.0.1 as its proxy and its limits are high)")
    notes.append(f"login POST: signs {LOGIN_USER} in each time (argon2id: most of its cost), a new session each")
    pages, get = _pages(base, password, common, ids)
    usable = []
    for page in pages:
        problem = _check(base, page)
        if problem:
            notes.append(f"{page.label} left out: {problem}")
        else:
            usable.append(page)
    return Prepared(usable, get, [(p, MIX[p.label]) for p in usable], notes)
