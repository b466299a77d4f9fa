"""The central library's pages: login, the network, ILL, the union catalog.

Everything behind ``/staff`` needs a staff login (accounts made with
`libfed coordinator add-user`). The network page refreshes itself: a meta
refresh without JavaScript, or a small script that re-reads only the table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from federation.errors import NotFound, Unauthenticated
from federation.web.render import BACKEND, STAFF, error_key, render, safe_next
from federation.web.session import SESSION
from federation.web.stats import ill_stats

PUBLIC = {"/staff/login"}


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/staff/login", login_form, name="staff_login")
    router.add_post("/staff/login", login, name="staff_login_post")
    router.add_post("/staff/logout", logout, name="staff_logout")
    router.add_get("/staff", network, name="staff_network")
    router.add_get("/staff/network-table", network_table, name="staff_network_table")
    router.add_get("/staff/ill", ill, name="staff_ill")
    router.add_get("/staff/requests/{request_id}", request_page, name="staff_request")
    router.add_get("/staff/catalog", catalog, name="staff_catalog")


def _require_staff(request: web.Request) -> str:
    user = request[SESSION].get("staff")
    if not user:
        raise web.HTTPSeeOther(f"/staff/login?next={request.path}")
    return user


async def login_form(request: web.Request) -> web.Response:
    return render(request, "staff_login.html", next=safe_next(request.query.get("next"), "/staff"),
                  error_key=error_key(request))


async def login(request: web.Request) -> web.Response:
    store = request.app.get(STAFF)
    form = await request.post()
    target = safe_next(str(form.get("next", "")), "/staff")
    if store is None:
        raise web.HTTPSeeOther("/staff/login?error=no_staff_store")
    try:
        user = await store.authenticate(str(form.get("username", "")), str(form.get("password", "")))
    except Unauthenticated:
        raise web.HTTPSeeOther(f"/staff/login?error=bad_login&next={target}") from None
    session = request[SESSION]
    session.set("staff", user)
    session.drop("csrf")  # a new form token after login
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.Response:
    request[SESSION].drop("staff")
    raise web.HTTPSeeOther("/staff/login")


async def _network_context(request: web.Request) -> dict:
    backend = request.app[BACKEND]
    nodes = sorted(await backend.nodes(), key=lambda node: node.symbol)
    overview = await backend.catalog_overview()
    return {"nodes": nodes, "harvest": harvest_by_library(overview.sources), "now": time.time()}


@dataclass(slots=True)
class LibraryHarvest:
    """A library's harvest sources (a node has one per record format) as one line."""

    records: int
    #: The stalest source's last complete harvest; None while one never completed.
    last_harvest: str | None
    #: Every failing source's error, named; "" when none fails.
    last_error: str


def harvest_by_library(sources: list) -> dict[str, LibraryHarvest]:
    """One line per library, so a failing or stale second source is not hidden."""
    grouped: dict[str, list] = {}
    for source in sources:
        grouped.setdefault(source.library, []).append(source)
    lines = {}
    for library, group in grouped.items():
        stamps = [source.last_harvest for source in group]
        errors = [f"{source.name}: {source.last_error}" for source in group if source.last_error]
        lines[library] = LibraryHarvest(
            records=sum(source.records for source in group),
            last_harvest=None if None in stamps or "" in stamps else min(stamps),
            last_error="; ".join(errors),
        )
    return lines


async def network(request: web.Request) -> web.Response:
    _require_staff(request)
    return render(request, "staff_network.html", **await _network_context(request))


async def network_table(request: web.Request) -> web.Response:
    """Only the table, for the page's small refresh script."""
    _require_staff(request)
    return render(request, "_network_table.html", **await _network_context(request))


async def ill(request: web.Request) -> web.Response:
    _require_staff(request)
    backend = request.app[BACKEND]
    stats = ill_stats(await backend.all_requests())
    return render(request, "staff_ill.html", stats=stats)


async def request_page(request: web.Request) -> web.Response:
    _require_staff(request)
    backend = request.app[BACKEND]
    try:
        loan = await backend.get_request(request.match_info["request_id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    return render(request, "staff_request.html", loan=loan)


async def catalog(request: web.Request) -> web.Response:
    _require_staff(request)
    backend = request.app[BACKEND]
    return render(request, "staff_catalog.html", overview=await backend.catalog_overview())
