"""The web layer's small parts, checked by hand: sessions, ILL figures, charts, words."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from federation.web import session
from federation.web.charts import bar_chart, paired_bar_chart
from federation.web.i18n import Translator
from federation.web.messages import MESSAGES
from federation.web.stats import ill_stats

SECRET = b"k" * 32
HOUR = 3600.0


def test_a_session_cookie_survives_a_round_trip_but_not_tampering_or_age():
    value = session.dumps(SECRET, {"patron": {"library": "MSK", "patron_ref": "p-1"}})
    assert session.loads(SECRET, value)["patron"]["library"] == "MSK"
    payload, signature = value.rsplit(".", 1)
    assert session.loads(SECRET, payload + "." + "0" * len(signature)) == {}
    assert session.loads(b"x" * 32, value) == {}
    assert session.loads(SECRET, value, max_age=-1) == {}
    assert session.loads(SECRET, "garbage") == {}


@dataclass
class Loan:
    request_id: str
    status: str
    requester: str
    lender: str
    created: float
    supplied_time: float | None = None
    title: str = ""
    updated: float = 0.0


def test_ill_figures_from_a_handful_of_requests():
    loans = [
        Loan("a", "LoanCompleted", "MSK", "SPB", 0, supplied_time=10 * HOUR),
        Loan("b", "LoanCompleted", "MSK", "TVER", 0, supplied_time=50 * HOUR),
        Loan("c", "Loaned", "SPB", "MSK", 0, supplied_time=80 * HOUR),
        Loan("d", "Unfilled", "TVER", "", 0),
        Loan("e", "WillSupply", "TVER", "MSK", 100 * HOUR),
        Loan("f", "RequestReceived", "SPB", "", 50 * HOUR),
        Loan("g", "Cancelled", "MSK", "SPB", 0),
    ]
    stats = ill_stats(loans, now=200 * HOUR)
    assert stats.open_by_status == {"RequestReceived": 1, "WillSupply": 1, "Loaned": 1}
    # A request its reader cancelled says nothing of supply: as `libfed status` counts.
    assert stats.finished == 3 and stats.filled == 2
    assert stats.fill_rate == pytest.approx(2 / 3)
    assert stats.median_turnaround_hours == pytest.approx(50)
    assert stats.buckets == {"lt48": 1, "48to72": 1, "gt72": 1}
    assert stats.balance["MSK"] == {"lent": 1, "borrowed": 2}
    assert stats.balance["SPB"] == {"lent": 1, "borrowed": 1}
    slowest = [(loan.request_id, age) for loan, age in stats.slowest_open]
    assert slowest == [("c", 200 * HOUR), ("f", 150 * HOUR), ("e", 100 * HOUR)]
    assert stats.balance["TVER"] == {"lent": 1, "borrowed": 0}, "WillSupply is not lent yet"


def test_charts_say_every_number_in_words_and_escape_labels():
    svg = str(bar_chart("Open <requests>", [("<b>Loaned</b>", 3), ("Received", 0)]))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title" in svg and "Open &lt;requests&gt;" in svg
    assert "&lt;b&gt;Loaned&lt;/b&gt;: 3; Received: 0" in svg
    assert "<b>" not in svg
    pair = str(paired_bar_chart("Balance", [("MSK", 2, 5)], ("lent", "borrowed")))
    assert "MSK: lent 2, borrowed 5" in pair
    assert bar_chart("Nothing", []) == ""


def test_russian_and_english_have_the_same_words_and_russian_plurals():
    assert set(MESSAGES["ru"]) == set(MESSAGES["en"])
    assert all(MESSAGES["ru"][key] for key in MESSAGES["ru"])
    ru = Translator("ru")
    ru._table = {**ru._table, "books": "книга|книги|книг"}
    assert [ru.plural(n, "books") for n in (1, 3, 5, 11, 21, 112)] == [
        "1 книга", "3 книги", "5 книг", "11 книг", "21 книга", "112 книг"]
    assert Translator("en")("results_heading", total=4) == "Found: 4"
    assert Translator("ru").status("Loaned") == "Отправлен"
    assert Translator("en")("no-such-key") == "no-such-key"
    assert Translator("ru").duration(7200) == "2 ч"
    assert Translator("ru").language("rus") == "русский"
    assert Translator("en").language("xyz") == "xyz"
    assert Translator("en").ago(100.0, now=145.0) == "45 s ago"


def test_a_reader_who_walks_away_from_a_public_terminal_is_signed_out():
    from aiohttp.test_utils import make_mocked_request

    from federation.web.render import READER_IDLE_SECONDS, patron_of
    from federation.web.session import SESSION, Session

    def request_with(seen: float):
        request = make_mocked_request("GET", "/my")
        request[SESSION] = Session(patron={"library": "MSK", "patron_ref": "p-1", "seen": seen})
        return request

    import time

    fresh = request_with(time.time() - 5)
    assert patron_of(fresh).patron_ref == "p-1"
    stale = request_with(time.time() - READER_IDLE_SECONDS - 1)
    assert patron_of(stale) is None
    assert "patron" not in stale[SESSION] and stale[SESSION].changed


@pytest.mark.parametrize("target,expected", [
    ("/my", "/my"), ("/?q=a&page=2", "/?q=a&page=2"), ("//evil.example", "/"),
    ("/\t/evil.example", "/"), ("/\\evil.example", "/"), ("https://evil.example", "/"),
    ("", "/"), (None, "/"), ("/\n/x", "/"),
])
def test_redirects_stay_on_the_site(target, expected):
    from federation.web.render import safe_next

    assert safe_next(target) == expected


async def test_the_session_cookie_is_secure_whenever_the_page_came_over_https(tmp_path):
    """A real TLS server on loopback: its session cookie says Secure without any
    setting; the same app over plain HTTP (the demo) does not."""
    import shutil
    import ssl
    import subprocess

    import aiohttp
    from aiohttp import web

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)

    async def touch(request: web.Request) -> web.Response:
        request[session.SESSION].set("seen", 1)
        return web.Response(text="ok")

    app = web.Application(middlewares=[session.session_middleware(SECRET)])
    app.router.add_get("/", touch)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tls = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    plain = web.TCPSite(runner, "127.0.0.1", 0)
    await tls.start()
    await plain.start()
    try:
        cookies = {}
        async with aiohttp.ClientSession() as client:
            for scheme, site in (("https", tls), ("http", plain)):
                port = site._server.sockets[0].getsockname()[1]
                async with client.get(f"{scheme}://127.0.0.1:{port}/", ssl=False) as response:
                    cookies[scheme] = response.headers["Set-Cookie"]
    finally:
        await runner.cleanup()
    assert "Secure" in cookies["https"] and "HttpOnly" in cookies["https"]
    assert "Secure" not in cookies["http"]


def test_the_network_page_shows_a_librarys_failing_second_source():
    """A node is harvested once per record format; the page has one line per library."""
    from federation.catalog import SourceState
    from federation.web.staff_pages import harvest_by_library

    marc = SourceState("BL", "BL", "http://bl/oai", "marc21", records=40,
                       last_harvest="2026-11-28T10:00:00Z")
    rusmarc = SourceState("BL:rusmarc", "BL", "http://bl/oai", "rusmarc", records=2,
                          last_harvest="2026-11-27T10:00:00Z", last_error="HTTP 500")
    never = SourceState("RSL", "RSL", "http://rsl/oai", "marc21")
    lines = harvest_by_library([marc, rusmarc, never])
    assert lines["BL"].records == 42
    assert lines["BL"].last_harvest == "2026-11-27T10:00:00Z"  # the stalest source
    assert lines["BL"].last_error == "BL:rusmarc: HTTP 500"
    assert lines["RSL"].last_harvest is None and lines["RSL"].last_error == ""


def test_a_long_facet_shows_twelve_values_and_a_link_to_all():
    """The search page's template itself, given a real SearchResult of 20 years."""
    from federation.catalog.model import SearchResult
    from federation.web.app import _environment

    result = SearchResult(40, [], {"year": {str(year): 2 for year in range(1990, 2010)}})

    def page(all_facet: str) -> str:
        return _environment().get_template("search.html").render(
            t=Translator("en"), lang="en", languages=("ru", "en"), path="/?q=x", here="",
            csrf_token="", patron=None, staff_user=None, flash=None, settings={"refresh": 0},
            words="x", filters=dict.fromkeys(("library", "year", "language", "format"), ""),
            result=result, page=1, pages=4, error_key=None, libraries={},
            facet_label=lambda name, value: value, all_facet=all_facet,
            page_url=lambda n: f"/?page={n}", facet_url=lambda name, value: f"/?{name}={value}",
            clear_url=lambda name: "/", all_url=lambda name: f"/?all={name}",
        )

    short, full = page(""), page("year")
    assert short.count('href="/?year=') == 12 and 'href="/?all=year"' in short
    assert "Show all (20)" in short
    assert full.count('href="/?year=') == 20 and "Show all" not in full
