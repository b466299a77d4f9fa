"""The reader's pages: search, a record with live availability, requests.

Every flow works without JavaScript: plain links and forms, POST then
redirect. A reader proves who they are only to their home library (card and
PIN go to the home node's Patrons service and are forgotten); the session
keeps the opaque ``patron_ref`` the node answered.
"""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlencode

from aiohttp import web

from federation.coordinator.model import day_start
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    LibfedError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from federation.web.backend import PatronIdentity
from federation.web.i18n import LANG, Translator
from federation.web.render import BACKEND, SETTINGS, error_key, flash, patron_of, render
from federation.web.session import SESSION

log = logging.getLogger(__name__)

PAGE_SIZE = 10
FACETS = ("library", "year", "language", "format")
#: Field filters the catalog's query language understands, added to the words.
QUERY_FIELDS = ("year", "language", "format")
#: A request may be cancelled until the lender ships it.


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", search, name="search")
    router.add_get("/record/{cluster_id}", record, name="record")
    router.add_post("/record/{cluster_id}/request", request_book, name="request_book")
    router.add_get("/my", my_requests, name="my")
    router.add_post("/my/signin", sign_in, name="signin")
    router.add_post("/my/signout", sign_out, name="signout")
    router.add_get("/my/{request_id}", my_request, name="my_request")
    router.add_post("/my/{request_id}/cancel", cancel, name="cancel")
    router.add_post("/my/{request_id}/renew", renew, name="renew")


def build_query(words: str, filters: dict[str, str]) -> str:
    """The catalog query: the reader's words plus field:value terms for chosen facets."""
    terms = [words.strip()] if words.strip() else []
    for name in QUERY_FIELDS:
        value = filters.get(name, "").strip()
        if value:
            terms.append(f'{name}:"{value}"' if " " in value else f"{name}:{value}")
    return " ".join(terms)


async def search(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    words = request.query.get("q", "")
    filters = {name: request.query.get(name, "") for name in FACETS}
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    result, problem = None, None
    if words.strip() or any(filters.values()):
        try:
            result = await backend.search(
                build_query(words, filters),
                library=filters["library"] or None,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
        except InvalidArgument:
            problem = "bad_query"
    pages = 0 if result is None else max(1, -(-result.total // PAGE_SIZE))
    base = {k: v for k, v in {"q": words, **filters}.items() if v}
    if result is not None and page > pages:  # an old link past the end: the last page
        raise web.HTTPSeeOther("/?" + urlencode({**base, "page": pages}))
    all_facet = request.query.get("all", "")
    names = await _library_names(backend)
    t = Translator(request[LANG])

    def facet_label(name: str, value: str) -> str:
        """A facet value as readers know it: the library's name, not its symbol."""
        if name == "library":
            return names.get(value, value)
        if name == "format":
            return t(f"format_{value}")
        return t.language(value) if name == "language" else str(value)

    return render(
        request, "search.html", words=words, filters=filters, result=result, page=page,
        pages=pages, error_key=problem, libraries=names, facet_label=facet_label,
        all_facet=all_facet if all_facet in FACETS else "",
        page_url=lambda n: "/?" + urlencode({**base, "page": n}),
        facet_url=lambda name, value: "/?" + urlencode({**base, name: value}),
        clear_url=lambda name: "/?" + urlencode({k: v for k, v in base.items() if k != name}),
        all_url=lambda name: "/?" + urlencode({**base, "all": name}) + f"#facet-{name}",
    )


async def _library_names(backend) -> dict[str, str]:
    try:
        return {lib.symbol: lib.name for lib in await backend.libraries()}
    except LibfedError:
        return {}


async def record(request: web.Request) -> web.Response:
    return await _record_page(request, error_key(request))


async def _record_page(
    request: web.Request, problem: str | None, *, library: str = "", card: str = ""
) -> web.Response:
    """The record page; after a refused card, with the reader's library and card kept
    (never the PIN) so that only the PIN has to be typed again."""
    backend, settings = request.app[BACKEND], request.app[SETTINGS]
    cluster_id = request.match_info["cluster_id"]
    try:
        cluster = await backend.cluster(cluster_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    if cluster is None:
        raise web.HTTPNotFound()
    availability = await backend.availability(cluster_id, settings["availability_timeout"])
    libraries = await backend.libraries()
    return render(
        request, "record.html", cluster=cluster, availability=availability,
        libraries=libraries, names={lib.symbol: lib.name for lib in libraries},
        error_key=problem, chosen_library=library, card=card,
        # One key per rendered form: pressing "Request" twice makes one request.
        idempotency_key=secrets.token_urlsafe(12),
    )


async def _verify(request: web.Request, form) -> PatronIdentity | str:
    """The reader, from the form's library, card and PIN; or the error message key."""
    backend = request.app[BACKEND]
    library = str(form.get("library", ""))
    card, pin = str(form.get("card", "")).strip(), str(form.get("pin", "")).strip()
    if not library or not card or not pin:
        return "fill_all_fields"
    try:
        patron = await backend.verify_patron(library, card, pin)
    except (Unauthenticated, InvalidArgument, NotFound):
        return "bad_card"
    except PermissionDenied:
        return "card_blocked"
    except Unavailable:
        return "home_library_down"
    session = request[SESSION]
    session.set("patron", {
        "library": patron.library, "patron_ref": patron.patron_ref,
        "display_name": patron.display_name, "seen": int(time.time()),
    })
    session.drop("csrf")  # a fresh form token for the signed-in reader
    return patron


async def request_book(request: web.Request) -> web.Response:
    """Card and PIN (or the signed-in reader), then the request goes to the coordinator."""
    backend = request.app[BACKEND]
    cluster_id = request.match_info["cluster_id"]
    form = await request.post()
    patron = patron_of(request)
    if patron is None or form.get("card"):
        checked = await _verify(request, form)
        if isinstance(checked, str):
            return await _record_page(request, checked, library=str(form.get("library", "")),
                                      card=str(form.get("card", "")).strip())
        patron = checked
    key = str(form.get("idempotency_key") or secrets.token_urlsafe(12))
    needed_before = _needed_before(str(form.get("needed_before", "")))
    if needed_before == 0.0:
        raise web.HTTPSeeOther(f"/record/{cluster_id}?error=needed_before_bad#request")
    try:
        loan = await backend.submit_request(
            patron, cluster_id, pickup=patron.library, idempotency_key=key,
            needed_before=needed_before,
        )
    except AlreadyExists:
        flash(request, "already_requested", "warning")
        raise web.HTTPSeeOther("/my") from None
    except LibfedError as error:
        log.warning("request for %s by a reader of %s failed: %s", cluster_id, patron.library, error)
        raise web.HTTPSeeOther(f"/record/{cluster_id}?error=request_failed#request") from None
    flash(request, "request_sent", "success")
    raise web.HTTPSeeOther(f"/my/{loan.request_id}")


def _needed_before(text: str) -> float | None:
    """The form's optional YYYY-MM-DD as the start of that day (UTC); None when empty,
    0.0 when it is not a date after today."""
    if not text.strip():
        return None
    try:
        day = day_start(text)
    except ValueError:
        return 0.0
    return day if day > time.time() else 0.0


async def my_requests(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    patron = patron_of(request)
    if patron is None:
        return render(request, "signin.html", libraries=await backend.libraries(),
                      error_key=error_key(request), chosen_library="", card="")
    loans = await backend.patron_requests(patron)
    loans.sort(key=lambda loan: loan.created, reverse=True)
    return render(request, "my_requests.html", loans=loans)


async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    checked = await _verify(request, form)
    if isinstance(checked, str):  # the form again, library and card kept, never the PIN
        return render(request, "signin.html", libraries=await request.app[BACKEND].libraries(),
                      error_key=checked, chosen_library=str(form.get("library", "")),
                      card=str(form.get("card", "")).strip())
    raise web.HTTPSeeOther("/my")


async def sign_out(request: web.Request) -> web.Response:
    request[SESSION].drop("patron")
    raise web.HTTPSeeOther("/")


async def _own_request(request: web.Request):
    backend = request.app[BACKEND]
    patron = patron_of(request)
    if patron is None:
        raise web.HTTPSeeOther("/my")
    try:
        loan = await backend.get_request(request.match_info["request_id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    # Another reader's request is as good as absent: never confirm it exists.
    if loan.patron_ref != patron.patron_ref or loan.requester != patron.library:
        raise web.HTTPNotFound()
    return backend, patron, loan


async def my_request(request: web.Request) -> web.Response:
    backend, _, loan = await _own_request(request)
    names = await _library_names(backend)
    return render(request, "my_request.html", loan=loan, names=names,
                  cancellable=backend.can_cancel(loan), renewable=backend.can_renew(loan))


async def renew(request: web.Request) -> web.Response:
    await _reader_action(request, "renew_request", done="request_renewed", refused="cannot_renew")


async def cancel(request: web.Request) -> web.Response:
    await _reader_action(request, "cancel_request", done="request_cancelled",
                         refused="cannot_cancel")


async def _reader_action(request: web.Request, method: str, *, done: str, refused: str) -> None:
    """A reader's button on their own request (Cancel, Renew): the backend decides,
    the page says how it went."""
    backend, patron, loan = await _own_request(request)
    try:
        await getattr(backend, method)(loan.request_id, patron)
    except FailedPrecondition:
        flash(request, refused, "warning")
    else:
        flash(request, done, "success")
    raise web.HTTPSeeOther(f"/my/{loan.request_id}")
