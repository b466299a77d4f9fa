"""Readers and staff in a real headless Chromium, against a live federation.

The stories run in order: the last one stops a library, as a power cut would.
"""

from __future__ import annotations

import pytest

pytest.importorskip("selenium", reason="selenium drives the browser stories (pip install -e '.[test]')")

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.web.browser import axe_violations, press, tab_to, text_of, wait_until
from tests.web.live import STAFF_PASSWORD, STAFF_USER, search_words

pytestmark = pytest.mark.browser


def test_a_reader_finds_a_book_another_library_holds_requests_it_and_sees_it_shipped(live, browser):
    work = live.work_to_borrow("TVER")
    browser.get(live.url + "/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru"
    box = browser.find_element(By.ID, "q")
    box.send_keys(search_words(work["title"]), Keys.ENTER)
    link = wait_until(lambda: browser.find_elements(
        By.CSS_SELECTOR, f'a[href="/record/{work["cluster_id"]}"]'), what="the work in the results")[0]
    hit = link.find_element(By.XPATH, "ancestor::li[1]")
    assert "Московская городская библиотека" in hit.text or "Санкт-Петербургская" in hit.text
    link.click()

    wait_until(lambda: text_of(browser, "h1") == work["title"], what="the record page")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.data tbody tr")
    assert len(rows) == len(work["libraries"])
    assert all("свободно" in row.text for row in rows), [row.text for row in rows]

    Select(browser.find_element(By.ID, "library")).select_by_value("TVER")
    browser.find_element(By.ID, "card").send_keys("TVER1001")
    browser.find_element(By.ID, "pin").send_keys("9999", Keys.ENTER)
    alert = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "[role=alert]"), what="refusal")[0]
    assert "PIN" in alert.text
    assert browser.find_element(By.ID, "pin").get_attribute("aria-invalid") == "true"
    # Library and card are kept, the PIN is not: only the PIN is typed again.
    assert Select(browser.find_element(By.ID, "library")).first_selected_option.get_attribute(
        "value") == "TVER"
    assert browser.find_element(By.ID, "card").get_attribute("value") == "TVER1001"
    assert browser.find_element(By.ID, "pin").get_attribute("value") == ""

    browser.find_element(By.ID, "pin").send_keys("4321", Keys.ENTER)
    wait_until(lambda: "/my/ill-" in browser.current_url, what="the request's page")
    request_id = browser.current_url.rsplit("/", 1)[1]
    assert "Заказ принят" in text_of(browser, "[role=status]")
    assert text_of(browser, "#current-status") in {"Принят", "Рассматривается", "Будет выдан"}

    live.ship(request_id)
    browser.refresh()
    assert text_of(browser, "#current-status") == "Отправлен"
    assert "Отправлен" in text_of(browser, ".timeline")
    assert not browser.find_elements(By.CSS_SELECTOR, "button.danger"), "no cancel once shipped"
    assert axe_violations(browser) == [], "the request's timeline passes axe too"

    browser.find_element(By.LINK_TEXT, "Мои заказы").click()
    assert work["title"] in text_of(browser, "table.data")


def test_the_language_switch_is_on_every_page(live, browser):
    browser.get(live.url + "/my")
    html = browser.find_element(By.TAG_NAME, "html")
    assert html.get_attribute("lang") == "ru"
    english = browser.find_element(By.LINK_TEXT, "English")
    assert english.get_attribute("lang") == "en"
    english.click()
    wait_until(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en",
               what="the English page")
    assert browser.current_url.endswith("/my")
    assert text_of(browser, "h1") == "My requests"
    browser.get(live.url + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Find a book in every library"
    browser.find_element(By.LINK_TEXT, "Русский").click()
    wait_until(lambda: text_of(browser, "h1") == "Найти книгу во всех библиотеках", what="Russian")


def test_a_reader_can_request_and_cancel_with_the_keyboard_alone(live, browser):
    works = [w for w in live.works() if "SPB" not in w["libraries"] and w["title"]]
    work = max(works, key=lambda w: len(w["libraries"]))
    browser.get(live.url + "/")
    skip = tab_to(browser, lambda e: True, limit=1)
    assert "skip-link" in skip.get_attribute("class")
    assert skip.value_of_css_property("outline-style") != "none"
    press(browser, Keys.ENTER)
    tab_to(browser, lambda e: e.get_attribute("id") == "q", what="search box")
    press(browser, search_words(work["title"]), Keys.ENTER)
    wait_until(lambda: browser.find_elements(By.ID, "results-heading"), what="results")
    href = f'/record/{work["cluster_id"]}'
    tab_to(browser, lambda e: (e.get_attribute("href") or "").endswith(href), what="the result")
    press(browser, Keys.ENTER)
    wait_until(lambda: href in browser.current_url, what="the record page")
    select = tab_to(browser, lambda e: e.get_attribute("id") == "library", what="library choice")
    for _ in range(5):
        if Select(select).first_selected_option.get_attribute("value") == "SPB":
            break
        press(browser, Keys.ARROW_DOWN)
    assert Select(select).first_selected_option.get_attribute("value") == "SPB"
    press(browser, Keys.TAB, "SPB1002", Keys.TAB, "1111", Keys.ENTER)
    wait_until(lambda: "/my/ill-" in browser.current_url, what="the request's page")
    tab_to(browser, lambda e: e.tag_name == "button" and "danger" in (e.get_attribute("class") or ""),
           what="cancel button")
    press(browser, Keys.ENTER)
    wait_until(lambda: text_of(browser, "#current-status") == "Отменён", what="cancelled")
    assert "Заказ отменён" in text_of(browser, "[role=status]")


def test_without_javascript_a_reader_signs_in_requests_and_cancels(live, browser_without_js):
    browser = browser_without_js
    work = max((w for w in live.works() if "MSK" not in w["libraries"]), key=lambda w: len(w["libraries"]))
    browser.get(live.url + "/my")
    Select(browser.find_element(By.ID, "library")).select_by_value("MSK")
    browser.find_element(By.ID, "card").send_keys("MSK1002")
    browser.find_element(By.ID, "pin").send_keys("1111", Keys.ENTER)
    wait_until(lambda: "Ivan Reader" in text_of(browser, "main"), what="signed in")
    browser.get(f"{live.url}/record/{work['cluster_id']}")
    assert "Вы вошли как читатель" in text_of(browser, "#request")
    browser.find_element(By.CSS_SELECTOR, "#request button[type=submit]").click()
    wait_until(lambda: "/my/ill-" in browser.current_url, what="the request's page")
    browser.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_until(lambda: text_of(browser, "#current-status") == "Отменён", what="cancelled")
    assert "Заказ отменён" in text_of(browser, "[role=status]")


def _login(live, browser) -> None:
    browser.get(live.url + "/staff")
    assert "/staff/login" in browser.current_url
    browser.find_element(By.ID, "username").send_keys(STAFF_USER)
    browser.find_element(By.ID, "password").send_keys(STAFF_PASSWORD, Keys.ENTER)
    wait_until(lambda: browser.find_elements(By.ID, "network-table"), what="the network page")


def test_the_main_pages_pass_an_automated_accessibility_check(live, browser):
    work = live.work_to_borrow("TVER")
    pages = ["/", f"/?q={search_words(work['title'])}", f"/record/{work['cluster_id']}", "/my",
             "/staff/login"]
    problems = {}

    def check(lang: str, page: str) -> None:
        browser.get(live.url + page)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
        if found := axe_violations(browser):
            problems[lang, page] = found

    for lang in ("ru", "en"):  # both languages: the words, and so the layout, differ
        browser.get(f"{live.url}/lang/{lang}?next=/")
        for page in pages:
            check(lang, page)
    _login(live, browser)
    requests = live.run(live.coordinator.store.list_requests(None, limit=1))
    staff_pages = ["/staff", "/staff/ill", "/staff/catalog"]
    staff_pages += [f"/staff/requests/{loan.request_id}" for loan in requests]
    for lang in ("en", "ru"):
        browser.get(f"{live.url}/lang/{lang}?next=/staff")
        for page in staff_pages:
            check(lang, page)
    assert not problems, problems


def test_staff_see_a_library_go_down_without_reloading(live, browser):
    _login(live, browser)
    def state(symbol: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'tr[data-node="{symbol}"] .node-state').text

    for symbol in ("MSK", "SPB", "TVER"):
        assert wait_until(lambda s=symbol: state(s)) == "работает"
    browser.find_element(By.LINK_TEXT, "Межбиблиотечный абонемент").click()
    wait_until(lambda: "Открытые заказы по состоянию" in browser.page_source, what="the ILL page")
    browser.back()
    wait_until(lambda: browser.find_elements(By.ID, "network-table"), what="the network page")
    assert "Работают 3 из 3" in text_of(browser, "#network-summary")
    live.stop_node("TVER")
    wait_until(lambda: state("TVER") == "не отвечает", timeout=15, what="TVER shown down")
    assert wait_until(lambda: state("MSK")) == "работает"
    wait_until(lambda: "Работают 2 из 3" in text_of(browser, "#network-summary"), what="the summary")
