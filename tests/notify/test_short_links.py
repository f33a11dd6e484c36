"""`/s/<code>`, the short link an SMS carries: a valid code redirects (303) to the path it stands for;
unknown, expired, another tenant's and a suspended county's codes all get the same 404 page, so the
answer never says whether a code existed; a client that keeps guessing is refused for an hour."""

from __future__ import annotations

from datetime import datetime, timezone

from app.notify import short_links
from tests.factories import make_tenant


async def code_for(database, tenant, target: str) -> str:
    async with database.transaction(tenant_id=tenant.id) as db:
        return await short_links.short_code(db, tenant.id, target)


def seen(r) -> tuple:
    """What the answer shows (the page's language switch names the address asked: left out)."""
    return r.status_code, r.text.replace(r.request.url.path, "/s/…"), r.headers.get("cache-control")


def same_refusal(a, b) -> bool:
    return seen(a) == seen(b)


async def test_a_code_redirects_to_its_path_and_the_same_path_keeps_its_code(client, database):
    alpha = await make_tenant(database, "alpha")
    code = await code_for(database, alpha, "/p/alpha/lookup")
    assert len(code) == 11 and code == await code_for(database, alpha, "/p/alpha/lookup")
    r = await client.get(f"/s/{code}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/p/alpha/lookup"
    assert r.headers["cache-control"] == "no-store" and "set-cookie" not in r.headers
    # typed from an SMS in lower case, it still opens
    r = await client.get(f"/s/{code.lower()}", follow_redirects=False)
    assert r.headers["location"] == "/p/alpha/lookup"


async def test_expired_unknown_and_other_tenants_codes_get_one_and_the_same_404(client, database, owner_sql):
    alpha, beta = await make_tenant(database, "alpha"), await make_tenant(database, "beta")
    expired = await code_for(database, alpha, "/signin/alpha/secret-token")
    await owner_sql("UPDATE short_links SET expires_at = now() - interval '1 minute'")
    live = await code_for(database, beta, "/p/beta/lookup")
    unknown = "23456789AB" + expired[10:]  # alpha's tenant part, a random part nobody was given
    elsewhere = live[:10] + expired[10:]  # beta's random part under alpha
    answers = [await client.get(f"/s/{c}", follow_redirects=False)
               for c in (expired, unknown, elsewhere, "NOTACODE", "2" * 30)]
    assert answers[0].status_code == 404 and "链接有误或已过期" in answers[0].text
    assert "secret-token" not in answers[0].text and "location" not in answers[0].headers
    assert all(same_refusal(answers[0], a) for a in answers[1:]), [a.status_code for a in answers]
    # a suspended county's links stop working too, with the same answer
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE id = $1", beta.id)
    assert same_refusal(answers[0], await client.get(f"/s/{live}", follow_redirects=False))


async def test_guessing_is_refused_after_thirty_misses_an_hour_whatever_the_code(client, database, owner_sql):
    alpha = await make_tenant(database, "alpha")
    code = await code_for(database, alpha, "/p/alpha/lookup")
    for i in range(short_links.MISSES_PER_HOUR):
        r = await client.get(f"/s/{'23456789A' + 'BCDEFGHJKMNPQRSTUVWXYZ'[i % 22]}{code[10:]}", follow_redirects=False)
        assert r.status_code == 404
    r = await client.get(f"/s/{code}", follow_redirects=False)
    assert r.status_code == 429 and "location" not in r.headers
    # only the client's misses count, and only for an hour
    assert (await owner_sql("SELECT count(DISTINCT client_hash) AS n FROM short_link_misses"))[0]["n"] == 1
    await owner_sql("UPDATE short_link_misses SET at = now() - interval '61 minutes'")
    r = await client.get(f"/s/{code}", follow_redirects=False)
    assert r.status_code == 303


def test_codes_carry_their_tenant_and_ten_random_characters():
    for tenant_id in (1, 30, 31, 961, short_links.MAX_TENANT):
        code = "23456789AB" + short_links._tenant_part(tenant_id)
        assert short_links.parse(code) == (tenant_id, "23456789AB")
        assert len(code) <= 14
    assert short_links.parse("23456789AB2") is None  # tenant 0
    assert short_links.parse("23456789A") is None and short_links.parse("23456789AB0") is None


async def test_the_expiry_moves_on_when_a_path_is_linked_again(database, owner_sql):
    alpha = await make_tenant(database, "alpha")
    async with database.transaction(tenant_id=alpha.id) as db:
        first = await short_links.short_code(db, alpha.id, "/p/alpha/lookup",
                                             now=datetime(2026, 1, 1, tzinfo=timezone.utc))
        again = await short_links.short_code(db, alpha.id, "/p/alpha/lookup",
                                             now=datetime(2026, 6, 1, tzinfo=timezone.utc))
    [row] = await owner_sql("SELECT expires_at FROM short_links")
    assert first == again and row["expires_at"] == datetime(2026, 6, 1, tzinfo=timezone.utc) + short_links.LIFETIME


def test_the_inbox_shows_a_short_link_as_a_link_to_click_and_escapes_the_rest():
    from app.notify.links import linked

    html = str(linked("案件已到期，请查看 http://lianluo.example.cn/s/ABCDEFGHJK2 <script>x</script>"))
    assert '<a href="/s/ABCDEFGHJK2">/s/ABCDEFGHJK2</a>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert str(linked("无链接的消息")) == "无链接的消息"
