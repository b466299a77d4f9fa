"""Plain HTTP against the live pages: escaping, CSRF, sessions, languages, /metrics."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
import pytest

from tests.web.live import STAFF_PASSWORD, STAFF_USER, search_words

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def client() -> aiohttp.ClientSession:
    # unsafe: keep cookies for a bare IP host (127.0.0.1)
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def token_of(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        match = TOKEN.search(await response.text())
    assert match, f"no form token on {url}"
    return match.group(1)


async def test_whatever_a_reader_types_is_shown_escaped(live):
    nasty = '<script>alert("x")</script>'
    async with client() as session, session.get(f"{live.url}/?q={quote(nasty)}") as response:
        html = await response.text()
    assert response.status == 200
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<title>Найдено: 0: &lt;script&gt;" in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_form_without_its_token_is_refused(live):
    form = {"library": "MSK", "card": "MSK1001", "pin": "4321"}
    async with client() as session:
        async with session.post(f"{live.url}/my/signin", data=form, allow_redirects=False) as response:
            assert response.status == 403
            # A page in the reader's language, with the switch and a way back; not bare text.
            html = await response.text()
            assert '<html lang="ru">' in html and "<h1>Форма устарела</h1>" in html
            assert 'href="/lang/en' in html
        token = await token_of(session, f"{live.url}/my")
        async with session.post(f"{live.url}/my/signin", data={**form, "csrf_token": "x" + token},
                                allow_redirects=False) as response:
            assert response.status == 403
        async with session.post(f"{live.url}/my/signin", data={**form, "csrf_token": token},
                                allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/my"
        async with session.get(f"{live.url}/my") as response:
            assert "Анна Петрова" in await response.text()


async def test_a_token_from_another_session_does_not_work(live):
    async with client() as first, client() as second:
        token = await token_of(first, f"{live.url}/my")
        await token_of(second, f"{live.url}/my")
        form = {"library": "MSK", "card": "MSK1001", "pin": "4321", "csrf_token": token}
        async with second.post(f"{live.url}/my/signin", data=form, allow_redirects=False) as response:
            assert response.status == 403


async def test_a_wrong_pin_and_an_unknown_card_get_the_same_answer(live):
    answers = []
    async with client() as session:
        for card, pin in (("MSK1001", "0000"), ("MSK9999", "4321")):
            token = await token_of(session, f"{live.url}/my")
            form = {"library": "MSK", "card": card, "pin": pin, "csrf_token": token}
            async with session.post(f"{live.url}/my/signin", data=form) as response:
                html = await response.text()
            answers.append(re.search(r'role="alert"[^>]*>([^<]+)<', html).group(1))
    assert answers[0] == answers[1]
    assert "PIN" in answers[0]


async def test_a_forged_session_cookie_is_ignored(live):
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps(
        {"staff": STAFF_USER, "_t": 9999999999}).encode()).decode()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar, cookies={"libfed_session": payload + ".00"}) as s:
        async with s.get(f"{live.url}/staff", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"].startswith("/staff/login")


async def test_russian_unless_the_browser_prefers_english_and_the_switch_wins(live):
    async with client() as session:
        async with session.get(live.url + "/") as response:
            assert '<html lang="ru">' in await response.text()
        headers = {"Accept-Language": "en-GB,en;q=0.9,ru;q=0.5"}
        async with session.get(live.url + "/", headers=headers) as response:
            html = await response.text()
            assert '<html lang="en">' in html and "Find a book" in html
        async with session.get(f"{live.url}/lang/ru?next=/my", headers=headers,
                               allow_redirects=False) as response:
            assert response.headers["Location"] == "/my"
        async with session.get(live.url + "/", headers=headers) as response:
            assert '<html lang="ru">' in await response.text()
        async with session.get(f"{live.url}/lang/en?next=//evil.example/", allow_redirects=False) as response:
            assert response.headers["Location"] == "/"


async def test_staff_pages_need_a_login(live):
    async with client() as session:
        for page in ("/staff", "/staff/ill", "/staff/catalog", "/staff/network-table"):
            async with session.get(live.url + page, allow_redirects=False) as response:
                assert response.status == 303, page
        token = await token_of(session, f"{live.url}/staff/login")
        bad = {"username": STAFF_USER, "password": "wrong password!", "csrf_token": token}
        async with session.post(f"{live.url}/staff/login", data=bad) as response:
            assert "/staff/login" in str(response.url)
        good = {"username": STAFF_USER, "password": STAFF_PASSWORD, "csrf_token": token, "next": "/staff/catalog"}
        async with session.post(f"{live.url}/staff/login", data=good) as response:
            html = await response.text()
            assert str(response.url).endswith("/staff/catalog")
        assert "MSK" in html and "SPB" in html and 'class="data overlap"' in html
        async with session.get(f"{live.url}/staff/ill") as response:
            assert response.status == 200


async def test_metrics_show_nodes_requests_harvests_and_rpc_latency(live):
    work = live.work_to_borrow("TVER")
    coordinator = live.coordinator
    live.run(coordinator.registry.check_health(coordinator.gateway))  # the coordinator's own calls
    async with client() as session:
        async with session.get(f"{live.url}/record/{work['cluster_id']}") as response:
            assert response.status == 200
        async with session.get(f"{live.url}/metrics") as response:
            text = await response.text()
            assert response.headers["Content-Type"].startswith("text/plain")
    up = sorted(line for line in text.splitlines() if line.startswith("libfed_node_up{"))
    assert up == [f'libfed_node_up{{node="{symbol}"}} 1.0' for symbol in ("MSK", "SPB", "TVER")], up
    assert "libfed_nodes_up 3.0" in text
    assert 'libfed_requests{status="RequestReceived"}' in text
    assert re.search(r'libfed_harvest_records\{library="MSK",source="MSK"\} [1-9]', text)
    assert 'libfed_rpc_latency_seconds_count{method="GetAvailability",outcome="ok"}' in text
    # The coordinator's own calls to nodes are timed too, not only the web pages'.
    assert re.search(r'libfed_rpc_latency_seconds_count\{method="Check",outcome="ok"\} [1-9]', text)
    fresh = re.search(
        r'libfed_harvest_last_success_timestamp_seconds\{library="MSK",source="MSK"\} (\S+)', text
    )
    assert fresh and time.time() - 3600 < float(fresh.group(1)) <= time.time()


async def test_an_unknown_record_is_a_page_not_a_crash(live):
    async with client() as session, session.get(f"{live.url}/record/nope-42") as response:
        assert response.status == 404
        assert "<h1>" in await response.text()


@pytest.mark.parametrize("header,expected", [
    ("ru-RU,ru;q=0.9,en;q=0.8", "ru"), ("en-US,en;q=0.9", "en"), ("de-DE", "ru"),
    ("de;q=1, en;q=0.5", "en"), ("", "ru"), ("en;q=0", "ru"),
])
def test_accept_language(header, expected):
    from federation.web.i18n import preferred

    assert preferred(header) == expected


async def sign_in(session: aiohttp.ClientSession, live, library: str, card: str, pin: str) -> None:
    token = await token_of(session, f"{live.url}/my")
    form = {"library": library, "card": card, "pin": pin, "csrf_token": token}
    async with session.post(f"{live.url}/my/signin", data=form) as response:
        assert str(response.url).endswith("/my"), await response.text()


async def test_pressing_request_twice_makes_one_request_only_its_reader_sees(live):
    work = live.work_to_borrow("TVER")
    async with client() as reader, client() as other:
        await sign_in(reader, live, "TVER", "TVER1002", "1111")
        async with reader.get(f"{live.url}/record/{work['cluster_id']}") as response:
            html = await response.text()
        token = TOKEN.search(html).group(1)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
        urls = set()
        for _ in range(2):
            async with reader.post(f"{live.url}/record/{work['cluster_id']}/request",
                                   data={"csrf_token": token, "idempotency_key": key}) as response:
                urls.add(str(response.url))
        assert len(urls) == 1 and "/my/ill-" in urls.pop()
        async with reader.get(f"{live.url}/my") as response:
            mine = await response.text()
        assert mine.count('href="/my/ill-') == 1
        request_id = re.search(r'href="/my/(ill-[^"]+)"', mine).group(1)

        await sign_in(other, live, "TVER", "TVER1001", "4321")
        async with other.get(f"{live.url}/my/{request_id}") as response:
            assert response.status == 404
        token = await token_of(other, f"{live.url}/my")
        async with other.post(f"{live.url}/my/{request_id}/cancel", data={"csrf_token": token}) as response:
            assert response.status == 404
        assert str(live.request(request_id).status) != "Cancelled"

    async with client() as staff:
        token = await token_of(staff, f"{live.url}/staff/login")
        login = {"username": STAFF_USER, "password": STAFF_PASSWORD, "csrf_token": token}
        async with staff.post(f"{live.url}/staff/login", data=login):
            pass
        async with staff.get(f"{live.url}/staff/requests/{request_id}") as response:
            html = await response.text()
        for lender in work["libraries"]:
            assert f"<th scope=\"row\">{lender}</th>" in html
        assert "TVER" in html and "submitted" in html
        async with staff.get(f"{live.url}/staff/ill") as response:
            assert f"/staff/requests/{request_id}" in await response.text()


async def test_a_reader_can_say_when_the_book_stops_being_of_use(live):
    others = [w for w in live.works() if "TVER" not in w["libraries"] and w["title"]]
    work = min(others, key=lambda w: (len(w["libraries"]), w["title"]))
    assert work != live.work_to_borrow("TVER")  # a work no other test requests
    url = f"{live.url}/record/{work['cluster_id']}"
    async with client() as reader:
        await sign_in(reader, live, "TVER", "TVER1002", "1111")
        token = await token_of(reader, url)
        async with reader.post(f"{url}/request", data={
            "csrf_token": token, "needed_before": "2001-01-01"}) as response:
            assert "error=needed_before_bad" in str(response.url)
            assert "after today" in await response.text() or "позже" in await response.text()
        token = await token_of(reader, url)
        async with reader.post(f"{url}/request", data={
            "csrf_token": token, "needed_before": "2099-12-31"}) as response:
            request_id = str(response.url).rsplit("/", 1)[-1]
    loan = live.request(request_id)
    assert loan.needed_before == datetime(2099, 12, 31, tzinfo=UTC).timestamp()


async def test_a_reader_renews_a_loan_once_from_its_page(live):
    others = [w for w in live.works() if "TVER" not in w["libraries"] and w["title"]]
    work = sorted(others, key=lambda w: (len(w["libraries"]), w["title"]))[1]
    url = f"{live.url}/record/{work['cluster_id']}"
    async with client() as reader:
        await sign_in(reader, live, "TVER", "TVER1001", "4321")
        token = await token_of(reader, url)
        async with reader.post(f"{url}/request", data={"csrf_token": token}) as response:
            page = str(response.url)
        request_id = page.rsplit("/", 1)[-1]
        async with reader.get(page) as response:
            assert "/renew" not in await response.text()  # not shipped yet
        live.ship(request_id)
        live.receive(request_id)
        before = live.request(request_id).due_time
        token = await token_of(reader, page)
        async with reader.post(f"{page}/renew", data={"csrf_token": token}) as response:
            html = await response.text()
        assert live.request(request_id).renewals == 1
        assert live.request(request_id).due_time > before
        assert "/renew" not in html  # the network allows one renewal
        assert "Срок продлён" in html or "Renewed" in html


async def test_a_facet_narrows_the_results(live):
    async with client() as session:
        async with session.get(f"{live.url}/?q=1879") as response:
            everything = await response.text()
        link = re.search(r'href="(/\?[^"]*library=SPB[^"]*)"', everything)
        assert link, "a library facet link"
        async with session.get(live.url + link.group(1).replace("&amp;", "&")) as response:
            narrowed = await response.text()
        assert 'aria-current="true"' in narrowed
        assert "Повести из русского быта" in narrowed


async def test_a_library_that_is_down_shows_as_unknown_and_the_page_still_renders(live):
    work = next(w for w in live.works() if w["libraries"] == ["SPB", "TVER"])
    live.stop_node("SPB")
    async with client() as session, session.get(f"{live.url}/record/{work['cluster_id']}") as response:
        html = await response.text()
    assert response.status == 200
    spb = re.search(r"Санкт-Петербургская библиотека</th>\s*<td>(.*?)</td>", html, re.S).group(1)
    tver = re.search(r"Тверская областная библиотека</th>\s*<td>(.*?)</td>", html, re.S).group(1)
    assert "неизвестно" in spb
    assert "свободно" in tver


async def test_results_come_in_pages_of_ten(live):
    async with client() as session:
        async with session.get(f"{live.url}/?format=book") as response:
            first = await response.text()
        total = int(re.search(r"Найдено: (\d+)</h2>", first).group(1))
        assert total > 10
        assert first.count('class="result"') == 10
        assert 'rel="next"' in first and 'rel="prev"' not in first
        following = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        async with session.get(live.url + following) as response:
            second = await response.text()
        assert second.count('class="result"') == total - 10
        assert 'rel="prev"' in second and 'start="11"' in second


async def test_a_crafted_link_cannot_put_its_own_words_in_an_alert(live):
    work = live.work_to_borrow("TVER")
    async with client() as session:
        async with session.get(f"{live.url}/record/{work['cluster_id']}?error=Call+555-0100+now") as response:
            assert 'role="alert"' not in await response.text()
        async with session.get(f"{live.url}/record/{work['cluster_id']}?error=bad_card") as response:
            assert "Номер билета или PIN не подходят" in await response.text()


async def test_a_filter_is_named_as_readers_know_it_and_old_pages_lead_to_the_last(live):
    work = live.work_to_borrow("TVER")
    words = quote(search_words(work["title"]))
    async with client() as session:
        async with session.get(f"{live.url}/?q={words}&library=MSK") as response:
            html = await response.text()
        # The filter is named as readers know the library, not by its symbol.
        assert "Убрать фильтр «Московская городская библиотека»" in html
        async with session.get(f"{live.url}/?q={words}&page=999", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"].endswith("page=1")
