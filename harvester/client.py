"""The HTTP side of harvesting: sickle's transport, our retries, lxml parsing.

sickle is blocking, so every request runs in a worker thread (the run's
fetch thread). We drive its low-level ``Sickle.harvest(**params)``
one page at a time, which leaves tokens, checkpoints and retries to us.
"""

from __future__ import annotations

import logging
import time

import requests
from sickle import Sickle

from federation.errors import FailedPrecondition, Unavailable
from harvester.page import OaiPage, PageError, parse_repairing
from harvester.retry import RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)


class OaiProtocolError(FailedPrecondition):
    """The server answered with an OAI-PMH error (badArgument, badResumptionToken…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"OAI-PMH error {code}: {message or '(no message)'}")
        self.code = code
        self.message = message


class _KeepAliveSickle(Sickle):
    """sickle with one HTTP session, so pages reuse the server connection."""

    def __init__(self, endpoint: str, **kwargs) -> None:
        super().__init__(endpoint, **kwargs)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "libfed-harvester (sickle)"

    def _request(self, kwargs):  # noqa: ANN001 - sickle's signature
        if self.http_method == "GET":
            return self.session.get(self.endpoint, params=kwargs, **self.request_args)
        return self.session.post(self.endpoint, data=kwargs, **self.request_args)


class OaiClient:
    """Fetches OAI-PMH pages from one base URL, retrying what is worth retrying."""

    def __init__(self, base_url: str, policy: RetryPolicy | None = None) -> None:
        self.base_url = base_url
        self.policy = policy or RetryPolicy()
        self._sickle = _KeepAliveSickle(base_url, max_retries=0, timeout=self.policy.timeout)

    def close(self) -> None:
        """Release the HTTP connection."""
        self._sickle.session.close()

    def fetch_blocking(self, params: dict[str, str]) -> bytes:
        """Fetch one page's bytes in the calling (worker) thread, with retries.

        An OAI error in the page is returned like any page, not raised: what it
        means (noRecordsMatch: done; badResumptionToken: restart) is the run's
        decision. So is a 4xx whose body is an OAI error (Zenodo answers 422).
        """
        attempt = 0
        while True:
            try:
                return self._fetch_once(params)
            except _Retryable as error:
                attempt += 1
                if attempt > self.policy.retries:
                    raise Unavailable(
                        f"{self.base_url} failed after {attempt} attempts: {error}"
                    ) from error
                delay = self.policy.delay(attempt, error.retry_after)
                log.warning(
                    "%s: %s; retry %d/%d in %.2f s",
                    self.base_url,
                    error,
                    attempt,
                    self.policy.retries,
                    delay,
                )
                time.sleep(delay)  # in the worker thread: the event loop runs on

    def fetch_page(self, params: dict[str, str]) -> OaiPage:
        """Fetch and parse one page (Identify, or a page read without a catalog)."""
        return self.parse(self.fetch_blocking(params))

    def parse(self, data: bytes) -> OaiPage:
        """Parse a page, repairing it if lxml refuses it as sent; an error names the server."""
        try:
            page, repaired = parse_repairing(data)
        except PageError as error:
            raise self.not_a_page(error) from error
        if repaired:
            self.log_repaired()
        return page

    def not_a_page(self, error: PageError) -> FailedPrecondition:
        """The error to report for bytes that are no OAI-PMH response."""
        return FailedPrecondition(f"{self.base_url}: {error}")

    def log_repaired(self) -> None:
        log.warning("%s: page repaired (broken UTF-8 or characters XML forbids)", self.base_url)

    def _fetch_once(self, params: dict[str, str]) -> bytes:
        try:
            return self._sickle.harvest(**params).http_response.content
        except requests.HTTPError as error:
            return self._error_body(error)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise _Retryable(f"{type(error).__name__}: {error}") from error

    def _error_body(self, error: requests.HTTPError) -> bytes:
        """5xx is retried; a 4xx carrying an OAI error body (Zenodo: 422) is returned."""
        response = error.response
        status = response.status_code if response is not None else 0
        if status >= 500 or status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {status}", retry_after) from error
        try:
            page, _repaired = parse_repairing(response.content)
        except PageError:
            page = None
        if page is not None and page.error_code is not None:
            return response.content
        raise FailedPrecondition(f"{self.base_url}: HTTP {status} {response.reason}") from error


class _Retryable(Exception):
    """A failure worth another attempt, with the wait the server asked for."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
