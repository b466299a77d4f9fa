"""Small helpers the browser stories share: waiting, pressing keys, axe-core."""

from __future__ import annotations

import time
from pathlib import Path

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


#: What a page in the middle of loading or refreshing a table may throw at a reader.
_TRANSIENT = (NoSuchElementException, StaleElementReferenceException)


def wait_until(condition, timeout: float = 10.0, what: str = "condition"):
    """Polls ``condition`` until truthy; a page still loading or refreshing counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except _TRANSIENT:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def press(browser, *keys: str) -> None:
    ActionChains(browser).send_keys(*keys).perform()


def tab_to(browser, matches, limit: int = 60, what: str = "element"):
    """Presses Tab until the focused element matches; fails if the focus never gets there."""
    for _ in range(limit):
        press(browser, Keys.TAB)
        element = browser.switch_to.active_element
        if matches(element):
            return element
    raise AssertionError(f"Tab never reached the {what}")


def text_of(browser, css: str) -> str:
    """The text of the first element matching ``css``, once the page has it."""
    return wait_until(lambda: browser.find_element(By.CSS_SELECTOR, css).text or " ",
                      what=css)


def axe_violations(browser) -> list[dict]:
    """WCAG 2.1 A and AA violations axe-core finds on the current page."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));"
    )
    return result
