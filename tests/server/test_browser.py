"""The search page in headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by
Selenium): type a query, see ranked hits with highlighted terms; add a document through the
API and find it through the page."""

from __future__ import annotations

import shutil

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
httpx = pytest.importorskip("httpx")
if not (shutil.which("chromium") and shutil.which("chromedriver")):
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)

from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import KEY  # noqa: E402


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    options = Options()
    options.binary_location = str(shutil.which("chromium"))
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    yield driver
    driver.quit()


def _search(browser, query: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait = WebDriverWait(browser, 20)
    wait.until(
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, f".hit[data-query='{query}']")
            or d.find_elements(By.CSS_SELECTOR, ".hit")
        )
    )
    return browser.find_elements(By.CSS_SELECTOR, ".hit")  # type: ignore[no-any-return]


def test_search_page_ranks_highlights_and_finds_new_documents(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    browser.get(server + "/")
    WebDriverWait(browser, 20).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#collection option"))
    )
    hits = _search(browser, "hydro energy")
    assert len(hits) == 10
    first = hits[0]
    assert first.find_elements(By.TAG_NAME, "mark")  # matched terms highlighted
    assert "bm25 #1" in first.find_element(By.CLASS_NAME, "bars").text
    r = httpx.post(
        f"{server}/collections/energy/documents",
        json={"documents": [{"id": "zep", "title": "Zeppelins", "text": "a zeppelin floats"}]},
        headers={"X-API-Key": KEY},
    )
    assert r.status_code == 200
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("zeppelin")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".hit[data-id='zep']")
    )
    hit = browser.find_element(By.CSS_SELECTOR, ".hit[data-id='zep']")
    assert "Zeppelins" in hit.text
    hit.find_element(By.TAG_NAME, "h3").click()
    WebDriverWait(browser, 20).until(
        lambda d: "a zeppelin floats" in d.find_element(By.ID, "doc").text
    )
