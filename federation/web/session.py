"""Signed cookie sessions and CSRF tokens, with nothing but hmac and secrets.

The session is a small JSON document in a cookie, signed with HMAC-SHA256
under the app's secret, so a reader cannot forge someone else's patron
reference or a staff login. It holds no card number and no PIN: only the
reader's home library, the opaque ``patron_ref`` the home node gave, the
language, the staff user name and the CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from aiohttp import web

COOKIE = "libfed_session"
#: A session older than this is dropped (a library's public terminal forgets).
MAX_AGE = 8 * 3600
CSRF_FIELD = "csrf_token"


class Session(dict):
    """The session's data; ``changed`` tells the middleware to send a new cookie."""

    changed: bool = False

    def set(self, key: str, value: Any) -> None:
        if self.get(key) != value:
            self[key] = value
            self.changed = True

    def drop(self, *keys: str) -> None:
        for key in keys:
            if key in self:
                del self[key]
                self.changed = True

    @property
    def csrf_token(self) -> str:
        """The form token of this session, created on first use."""
        if "csrf" not in self:
            self.set("csrf", secrets.token_urlsafe(24))
        return self["csrf"]


#: Where a request keeps its session (a typed key where aiohttp has them).
SESSION = web.RequestKey("session", Session) if hasattr(web, "RequestKey") else "session"


def _sign(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def dumps(secret: bytes, data: dict[str, Any]) -> str:
    """The cookie value: base64url(JSON with issue time) + "." + signature."""
    body = dict(data, _t=int(time.time()))
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
    return payload.decode() + "." + _sign(secret, payload)


def loads(secret: bytes, value: str | None, *, max_age: int = MAX_AGE) -> dict[str, Any]:
    """The session data of a cookie, or {} when it is missing, forged or too old."""
    if not value or "." not in value:
        return {}
    payload, signature = value.rsplit(".", 1)
    if not hmac.compare_digest(_sign(secret, payload.encode()), signature):
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):
        return {}
    if not isinstance(data, dict) or time.time() - float(data.pop("_t", 0)) > max_age:
        return {}
    return data


def session_middleware(secret: bytes, *, secure: bool = False):
    """Loads ``request[SESSION]`` and writes the cookie back when it changed.

    The cookie is ``Secure`` when ``secure`` is set, and always when the request
    itself came over HTTPS: a reader's session must never travel in the clear once
    the site is served over TLS, whether or not the operator remembered the setting.
    """

    @web.middleware
    async def middleware(request: web.Request, handler):
        session = Session(loads(secret, request.cookies.get(COOKIE)))
        request[SESSION] = session
        over_tls = secure or request.secure
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _store(exc, session, secret, over_tls)
            raise
        _store(response, session, secret, over_tls)
        return response

    return middleware


def _store(response: web.StreamResponse, session: Session, secret: bytes, secure: bool) -> None:
    if not session.changed or response.prepared:
        return
    response.set_cookie(
        COOKIE, dumps(secret, dict(session)), httponly=True, samesite="Lax", secure=secure,
        max_age=MAX_AGE, path="/",
    )


#: Machine endpoints that read no session and change nothing: SRU clients (yaz,
#: Koha) POST their searches and never hold a form token.
CSRF_EXEMPT = frozenset({"/sru", "/iso18626"})


def csrf_middleware():
    """Refuses any state-changing request whose form lacks the session's token.

    Same-site cookies already stop most cross-site posts; the token also stops
    them in browsers that ignore SameSite.
    """

    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.method in {"POST", "PUT", "PATCH", "DELETE"} and (
            request.path not in CSRF_EXEMPT
        ):
            form = await request.post()
            sent = str(form.get(CSRF_FIELD, ""))
            expected = request[SESSION].get("csrf", "")
            if not expected or not hmac.compare_digest(sent, expected):
                from federation.web.render import render  # render needs this module

                # A page in the reader's language, with the language switch and a way back.
                return render(request, "error.html", status=403, message_key="form_expired")
        return await handler(request)

    return middleware
