"""What every page handler shares: the app's keys, rendering a page, flashes, redirects.

Kept apart from ``app.py`` so that the handler modules (``reader``,
``staff_pages``) import it without importing the app factory that imports them.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import jinja2
from aiohttp import web

from federation.web.backend import PatronIdentity, WebBackend
from federation.web.i18n import LANG, LANGUAGES, Translator
from federation.web.metrics import WebMetrics
from federation.web.session import SESSION
from federation.web.staff import StaffStore

BACKEND = web.AppKey("backend", WebBackend)
JINJA = web.AppKey("jinja", jinja2.Environment)
METRICS = web.AppKey("metrics", WebMetrics)
STAFF = web.AppKey("staff", StaffStore)
SETTINGS = web.AppKey("settings", dict)

#: A reader at a library's public terminal who walks away is signed out after this.
READER_IDLE_SECONDS = 30 * 60


def patron_of(request: web.Request) -> PatronIdentity | None:
    """The signed-in reader; forgotten after READER_IDLE_SECONDS without a page."""
    session = request[SESSION]
    data = session.get("patron")
    if not data:
        return None
    now = time.time()
    if now - float(data.get("seen", 0)) > READER_IDLE_SECONDS:
        session.drop("patron")
        return None
    if now - float(data["seen"]) > 60:
        session.set("patron", {**data, "seen": int(now)})
    return PatronIdentity(data["library"], data["patron_ref"], data.get("display_name", ""))


#: The error messages a redirect may name in ``?error=``; anything else is ignored,
#: so a crafted link cannot put its own words in a page's alert.
ERROR_KEYS = frozenset({
    "fill_all_fields", "bad_card", "card_blocked", "home_library_down", "request_failed",
    "bad_login", "no_staff_store", "needed_before_bad",
})


def error_key(request: web.Request) -> str | None:
    """The known error message named in the query string, if any."""
    key = request.query.get("error")
    return key if key in ERROR_KEYS else None


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    """A page in the request's language, with the session's CSRF token and flash."""
    session = request[SESSION]
    lang = request[LANG]
    html = request.app[JINJA].get_template(template).render(
        t=Translator(lang),
        lang=lang,
        languages=LANGUAGES,
        path=request.path_qs,
        here=quote(request.path_qs, safe=""),
        csrf_token=session.csrf_token,
        patron=patron_of(request),
        staff_user=session.get("staff"),
        flash=_take_flash(session),
        settings=request.app[SETTINGS],
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status)


def _take_flash(session) -> dict | None:
    message = session.get("flash")
    session.drop("flash")
    return message


def flash(request: web.Request, key: str, kind: str = "info") -> None:
    """A one-time message (a translation key) shown on the next page."""
    request[SESSION].set("flash", {"key": key, "kind": kind})


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: a redirect target from a form can never leave the site."""
    if not target or not target.startswith("/") or "\\" in target:
        return default
    # Browsers drop tabs and newlines in URLs: "/\t/evil.example" would become "//evil.example".
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in target) or target.startswith("//"):
        return default
    return target


