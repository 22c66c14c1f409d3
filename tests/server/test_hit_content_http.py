"""Hit content over HTTP: ``fields`` and ``group_by`` in a search body, the id and text
names a document may use, and the search page showing titles and escaped snippets."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from hybridir import Collection, Document
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig
from hybridir.types import PARENT, PASSAGE

KEY = "content-key"
SEARCH = "/collections/notes/search"
DOCUMENTS = "/collections/notes/documents"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    docs = [
        Document("a#0", "solar panels on the roof", "Roofs", {PARENT: "a", PASSAGE: 0}),
        Document("a#1", "solar solar heat storage", "Roofs", {PARENT: "a", PASSAGE: 1}),
        Document("b#0", "Tags like <b>bold</b> & solar heat", "Markup", {PARENT: "b", PASSAGE: 0}),
        Document("lone", "a lone wind page", "Lone", {"kind": "note"}),
    ]
    Collection.create(tmp_path / "notes").add(docs)
    config = ServerConfig({"notes": tmp_path / "notes"}, frozenset({KEY}))
    return TestClient(create_app(config), raise_server_exceptions=False)


def _hits(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    response = client.post(SEARCH, json={"query": "solar heat", **body})
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def test_default_fields_and_bare_hits(client: TestClient) -> None:
    first = _hits(client)[0]
    assert first["doc_id"] == "a#1"
    assert (first["title"], first["text"]) == ("Roofs", "solar solar heat storage")
    assert first["metadata"] == {PARENT: "a", PASSAGE: 1}
    assert "passage_id" not in first
    assert set(_hits(client, fields=[])[0]) == {"doc_id", "score", "rank", "lists"}


def test_snippets_are_escaped_html_with_marks(client: TestClient) -> None:
    hits = {h["doc_id"]: h for h in _hits(client, fields=["title", "snippet"])}
    assert hits["b#0"]["text"] == (
        "Tags like &lt;b&gt;bold&lt;/b&gt; &amp; <mark>solar</mark> <mark>heat</mark>"
    )
    assert hits["b#0"]["title"] == "Markup"  # plain text: the page escapes it
    assert "metadata" not in hits["b#0"]


def test_group_by_document_counts_documents(client: TestClient) -> None:
    passages = _hits(client, fields=[])
    grouped = _hits(client, k=2, group_by="document", fields=["snippet"])
    assert [(h["doc_id"], h["passage_id"], h["rank"]) for h in grouped] == [
        ("a", "a#1", 1),
        ("b", "b#0", 2),
    ]
    best = {h["doc_id"]: h for h in passages}
    assert grouped[0]["score"] == best["a#1"]["score"]
    assert grouped[0]["lists"] == best["a#1"]["lists"]
    assert grouped[0]["text"].startswith("<mark>solar</mark>")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"fields": ["summary"]}, "fields"),
        ({"fields": ["text", "snippet"]}, "both fill"),
        ({"fields": "title"}, "fields"),
        ({"group_by": "chapter"}, "group_by"),
    ],
)
def test_bad_fields_and_group_by_are_422(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    response = client.post(SEARCH, json={"query": "solar", **body})
    assert response.status_code == 422, response.text
    assert message in response.text


@pytest.mark.parametrize(
    ("id_name", "text_name"), [("id", "text"), ("_id", "contents"), ("docid", "body")]
)
def test_documents_take_the_id_and_text_names_of_files(
    client: TestClient, id_name: str, text_name: str
) -> None:
    doc = {id_name: "new", "title": "New", text_name: "tidal zeppelin power"}
    response = client.post(DOCUMENTS, json={"documents": [doc]}, headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    stored = client.get(f"{DOCUMENTS}/new").json()
    assert (stored["id"], stored["text"]) == ("new", "tidal zeppelin power")
    hit = client.post(SEARCH, json={"query": "zeppelin"}).json()["hits"][0]
    assert (hit["doc_id"], hit["text"]) == ("new", "tidal zeppelin power")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"id": "x", "_id": "y", "text": "t"}, "give the id once"),
        ({"docid": "x", "text": "t", "body": "u"}, "give the text once"),
        ({"text": "no id"}, "Field required"),
    ],
)
def test_documents_name_id_and_text_once(
    client: TestClient, doc: dict[str, Any], message: str
) -> None:
    response = client.post(DOCUMENTS, json={"documents": [doc]}, headers={"X-API-Key": KEY})
    assert response.status_code == 422, response.text
    assert message in response.text


def test_openapi_documents_fields_group_by_and_id_names(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    search = schemas["SearchRequest"]["properties"]
    assert "snippet" in str(search["fields"])
    assert search["group_by"]["default"] == "passage"
    assert "`_id` or `docid`" in schemas["DocumentIn"]["properties"]["id"]["description"]


# -- the search page in headless Chromium (skipped where it is not installed) -------------


@pytest.fixture
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(shutil.which("chromium"))
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    yield driver
    driver.quit()


def test_page_shows_titles_and_escaped_snippets(server: str, browser: Any) -> None:
    httpx = pytest.importorskip("httpx")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from conftest import KEY as SERVER_KEY

    docs = [
        {"_id": "m#0", "title": "Markup <i>notes</i>", "contents": "<b>zeppelin</b> & <img>"},
        {"_id": "m#1", "title": "Markup <i>notes</i>", "contents": "zeppelin zeppelin"},
    ]
    for doc in docs:
        doc["metadata"] = {PARENT: "m"}
    r = httpx.post(
        f"{server}/collections/energy/documents",
        json={"documents": docs},
        headers={"X-API-Key": SERVER_KEY},
    )
    assert r.status_code == 200, r.text
    browser.get(server + "/")
    WebDriverWait(browser, 20).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#collection option"))
    )
    box = browser.find_element(By.ID, "q")
    box.send_keys("zeppelin")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".hit"))
    hits = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert [h.get_attribute("data-id") for h in hits] == ["m#1", "m#0"]
    text = hits[1].find_element(By.CLASS_NAME, "text")
    assert text.text == "<b>zeppelin</b> & <img>"  # shown as written, not as markup
    assert [m.text for m in text.find_elements(By.TAG_NAME, "mark")] == ["zeppelin"]
    assert not text.find_elements(By.TAG_NAME, "b")
    assert not browser.find_elements(By.CSS_SELECTOR, ".hit img, .hit i")
    assert "Markup <i>notes</i>" in hits[0].find_element(By.TAG_NAME, "h3").text

    Select(browser.find_element(By.ID, "group")).select_by_value("document")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".hit")) == 1)
    (grouped,) = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert grouped.get_attribute("data-id") == "m#1"  # its best passage
    assert "passage m#1" in grouped.find_element(By.CLASS_NAME, "meta").text
