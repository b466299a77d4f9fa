"""The web application: one aiohttp app, Jinja2 templates, the middlewares.

``create_app`` builds it from a :class:`~federation.web.backend.WebBackend`,
the one object through which every page reaches the union catalog and the
coordinator's services; ``start_web`` runs it on a loopback port inside the
coordinator's event loop.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

import jinja2
from aiohttp import web

from federation.web import filters, iso18626, reader, sru, staff_pages
from federation.web.backend import WebBackend
from federation.web.i18n import LANG, LANGUAGES, language_of
from federation.web.metrics import WebMetrics
from federation.web.render import (
    BACKEND,
    JINJA,
    METRICS,
    SETTINGS,
    STAFF,
    render,
    safe_next,
)
from federation.web.session import SESSION, csrf_middleware, session_middleware
from federation.web.staff import StaffStore

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: Content Security Policy: our own scripts and styles only, no framing.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(
    backend: WebBackend,
    *,
    staff: StaffStore | None = None,
    secret: bytes | None = None,
    secure_cookies: bool = False,
    refresh_seconds: int = 10,
    availability_timeout: float = 2.0,
) -> web.Application:
    """The reader catalogue, the staff dashboard and ``/metrics`` as one app.

    ``secret`` signs the session cookies; without one a random secret is made,
    which logs everybody out when the process restarts.
    """
    app = web.Application(
        middlewares=[
            _headers_middleware,
            session_middleware(secret or secrets.token_bytes(32), secure=secure_cookies),
            _language_middleware,
            csrf_middleware(),
            _errors_middleware,
        ]
    )
    app[BACKEND] = backend
    app[JINJA] = _environment()
    app[METRICS] = WebMetrics(backend)
    if staff is not None:
        app[STAFF] = staff
    app[SETTINGS] = {"refresh": refresh_seconds, "availability_timeout": availability_timeout}
    app.router.add_get("/lang/{lang}", switch_language, name="lang")
    app.router.add_get("/metrics", metrics, name="metrics")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_static("/static/", HERE / "static", name="static")
    reader.add_routes(app.router)
    staff_pages.add_routes(app.router)
    sru.add_routes(app.router)
    iso18626.add_routes(app.router)
    return app


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is escaped, in every template
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters.install(env)
    return env


@web.middleware
async def _headers_middleware(request: web.Request, handler):
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure_headers(exc)
        raise
    _secure_headers(response)
    route = request.match_info.route.name or "other"
    request.app[METRICS].observe_http(route, time.perf_counter() - started)
    return response


def _secure_headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")


@web.middleware
async def _language_middleware(request: web.Request, handler):
    request[LANG] = language_of(request)
    response = await handler(request)
    response.headers.setdefault("Content-Language", request[LANG])
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@web.middleware
async def _errors_middleware(request: web.Request, handler):
    """Not-found and server errors as pages in the reader's language."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return render(request, "error.html", status=404, message_key="not_found")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("page %s failed", request.path)
        return render(request, "error.html", status=500, message_key="server_error")


async def switch_language(request: web.Request) -> web.Response:
    lang = request.match_info["lang"]
    if lang in LANGUAGES:
        request[SESSION].set("lang", lang)
    raise web.HTTPSeeOther(safe_next(request.query.get("next")))


async def metrics(request: web.Request) -> web.Response:
    body, content_type = await request.app[METRICS].exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def start_web(app: web.Application, host: str = "127.0.0.1", port: int = 8000) -> web.AppRunner:
    """Serves ``app`` inside the running event loop; ``await runner.cleanup()`` stops it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("web pages at http://%s:%d/", host, port)
    return runner
