"""Running the web pages inside a coordinator process.

``await serve_coordinator_web(server)`` is all ``CoordinatorServer.start`` (or
``libfed coordinator serve``) needs: it opens the staff accounts beside the
coordinator's state, builds the backend from the running services and starts
an HTTP server on ``[coordinator] web_listen``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from federation.web.app import create_app, start_web
from federation.web.coordinator_backend import CoordinatorBackend
from federation.web.render import METRICS
from federation.web.staff import StaffStore

log = logging.getLogger(__name__)


def staff_db_path(config) -> Path:
    """``staff.sqlite`` in the coordinator's directory."""
    return Path(config.home) / "staff.sqlite"


def session_secret(coordinator_secret: str) -> bytes:
    """A key for session cookies derived from the coordinator's secret (stable over restarts)."""
    return hmac.new(coordinator_secret.encode(), b"libfed web session", hashlib.sha256).digest()


@dataclass
class WebHandle:
    """A running web server: where it is and how to stop it."""

    runner: web.AppRunner
    app: web.Application
    backend: CoordinatorBackend
    staff: StaffStore
    url: str

    async def stop(self) -> None:
        observers = self.backend.gateway.observers
        if self.app[METRICS].observe_rpc in observers:
            observers.remove(self.app[METRICS].observe_rpc)
        await self.runner.cleanup()
        await self.backend.close()
        await self.staff.close()


async def serve_coordinator_web(server, listen: str | None = None, **options) -> WebHandle:
    """Serves the pages of a started CoordinatorServer on ``listen`` (default: web_listen)."""
    config = server.config
    listen = listen or config.web_listen or "127.0.0.1:8000"
    host, _, port = listen.rpartition(":")
    staff = await StaffStore.open(staff_db_path(config))
    backend = CoordinatorBackend.from_server(server)
    options.setdefault("availability_timeout", config.availability_timeout)
    app = create_app(backend, staff=staff, secret=session_secret(config.secret), **options)
    backend.metrics = app[METRICS]
    server.gateway.observers.append(app[METRICS].observe_rpc)  # the coordinator's calls too
    runner = await start_web(app, host or "127.0.0.1", int(port))
    bound = runner.addresses[0][1] if runner.addresses else int(port)
    url = f"http://{host or '127.0.0.1'}:{bound}/"
    log.info("web pages for readers at %s, for staff at %sstaff", url, url)
    return WebHandle(runner, app, backend, staff, url)
