"""The web pages of the federation: readers' catalogue, staff dashboard, metrics.

Served by the coordinator process::

    app = create_app(backend, staff=staff_store, secret=secret)
    runner = await start_web(app, "127.0.0.1", 8000)
"""

from federation.web.app import create_app, start_web
from federation.web.backend import WebBackend

__all__ = ["WebBackend", "create_app", "start_web"]
