"""The LangChain and LlamaIndex retrievers (hybridir.integrations) against the real
frameworks: the same documents, order and scores as ``Searcher.search``, locally and over
HTTP (a real uvicorn in a thread for the blocking client, the ASGI app in-process for the
async one), with every option passed through, used as a user would use them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")
pytest.importorskip("fastapi")
import httpx
import langchain_core
import llama_index.core
import pydantic
from langchain_core.documents import Document as LCDocument
from llama_index.core.schema import MetadataMode, NodeRelationship, NodeWithScore

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig
from hybridir.dense.encoders import ENCODER_FAMILIES
from hybridir.errors import (
    ConfigError,
    HybridirError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    UnavailableError,
)
from hybridir.integrations import langchain as lc
from hybridir.integrations import llamaindex as li
from hybridir.integrations._common import RemoteClient, SearchOptions
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig
from hybridir.types import PARENT, PASSAGE, Hit

KEY = "adapter-key"
HASH_MODEL = "test-integrations-hash-encoder"
DIM = 8
WORDS = ["solar", "wind", "hydro", "panel", "turbine", "grid", "storage", "battery", "heat"]
QUERIES = ["solar panel", "wind turbine grid", "battery storage heat", "hydro", "nothing-here"]


def _vector(text: str) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class HashEncoder:
    """A deterministic stand-in for a dense model (a vector per text, from its CRC-32)."""

    name = HASH_MODEL
    dim = DIM
    similarity = "cosine"

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return np.stack([_vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


def _documents() -> list[Document]:
    """Twelve parent documents of three passages each (``parent_id``/``passage``), two
    languages, so that filters and ``group_by="document"`` change the answers."""
    rng = np.random.default_rng(7)
    docs = []
    for p in range(12):
        for i in range(3):
            text = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9))))
            meta = {PARENT: f"doc{p}", PASSAGE: i, "lang": "en" if p % 3 else "pl", "n": p}
            docs.append(Document(f"doc{p}#{i}", text, title=f"Title {p}", metadata=meta))
    return docs


@pytest.fixture(scope="module", autouse=True)
def hash_encoder() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(
            ENCODER_FAMILIES, "test-hash", (lambda m: m == HASH_MODEL, lambda c: HashEncoder())
        )
        yield


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``plain``: BM25 only; ``hybrid``: BM25 + dense (hash vectors)."""
    root = tmp_path_factory.mktemp("adapters")
    docs = _documents()
    Collection.create(root / "plain").add(docs)
    hybrid = Collection.create(root / "hybrid", CollectionConfig(dense=DenseConfig(HASH_MODEL)))
    vectors = np.stack([_vector(d.text) for d in docs])
    hybrid.add(docs[:20], vectors=vectors[:20])
    hybrid.add(docs[20:], vectors=vectors[20:])  # two segments
    return {"plain": root / "plain", "hybrid": root / "hybrid"}


@pytest.fixture(scope="module")
def config(folders: dict[str, Path]) -> ServerConfig:
    return ServerConfig(dict(folders), frozenset({KEY}), keys_for_reads=True)


@contextmanager
def _serving(config: ServerConfig) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 in a thread, started as ``hybridir serve`` starts it."""
    import uvicorn

    from hybridir.server.serving import listen, url, uvicorn_config

    with listen("127.0.0.1", 0) as sock:
        server = uvicorn.Server(uvicorn_config(create_app(config), config))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            pytest.fail("uvicorn did not start")
        try:
            yield url(sock)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(config: ServerConfig) -> Iterator[str]:
    with _serving(config) as base:
        yield base


@pytest.fixture(scope="module")
def searchers(folders: dict[str, Path]) -> dict[str, Searcher]:
    return {name: Searcher(Collection.open(path)) for name, path in folders.items()}


# Options a retriever passes through: (collection, options).
CASES: list[tuple[str, dict[str, Any]]] = [
    ("plain", {}),
    ("plain", {"k": 7}),
    ("plain", {"k": 5, "filters": {"lang": "pl"}}),
    ("plain", {"k": 5, "group_by": "document"}),
    ("plain", {"k": 3, "fields": ["snippet"]}),
    ("plain", {"k": 3, "fields": []}),
    ("hybrid", {"k": 6}),
    ("hybrid", {"k": 6, "retriever": "dense"}),
    ("hybrid", {"k": 6, "retriever": "bm25", "filters": {"n": {"gte": 6}}}),
    ("hybrid", {"k": 5, "fusion": {"method": "rrf", "rrf_k": 10}}),
    ("hybrid", {"k": 4, "group_by": "document", "filters": {"lang": "en"}}),
]


def _expected(searcher: Searcher, query: str, options: dict[str, Any]) -> list[Hit]:
    """What ``Searcher.search`` answers for ``options`` (fusion overrides on the collection's)."""
    kwargs = dict(options)
    k = kwargs.pop("k", 4)
    if "fusion" in kwargs:
        kwargs["fusion"] = SearchOptions(fusion=kwargs["fusion"]).fusion_over(searcher.fusion)
    return list(searcher.search(query, k, explain=False, **kwargs).hits)


def _check_documents(docs: list[LCDocument], hits: list[Hit]) -> None:
    assert [d.id for d in docs] == [h.doc_id for h in hits]
    for doc, hit in zip(docs, hits, strict=True):
        assert doc.page_content == (hit.text or "")
        assert doc.metadata == {
            **(hit.metadata or {}),
            "id": hit.doc_id,
            "score": hit.score,
            "rank": hit.rank,
            "title": hit.title,
            "passage_id": hit.passage_id,
        }


def _check_nodes(nodes: list[NodeWithScore], hits: list[Hit]) -> None:
    assert [n.node.node_id for n in nodes] == [h.doc_id for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    for node, hit in zip(nodes, hits, strict=True):
        assert node.node.get_content() == (hit.text or "")
        assert node.node.metadata["rank"] == hit.rank
        assert node.node.metadata["title"] == hit.title
        assert node.node.metadata["passage_id"] == hit.passage_id
        for key, value in (hit.metadata or {}).items():
            assert node.node.metadata[key] == value


def test_cases_cover_content_and_grouping(searchers: dict[str, Searcher]) -> None:
    """The fixture answers differ by option (so passing one through is checked), and the
    hits carry content: a check of the cases, not of the adapters."""
    for name, options in CASES:
        hits = _expected(searchers[name], "solar panel", options)
        assert hits, (name, options)
        fields = options.get("fields", ["title", "text", "metadata"])
        assert (hits[0].text is not None) == bool({"text", "snippet"} & set(fields))
        assert (hits[0].metadata is not None) == ("metadata" in fields)
        if options.get("group_by") == "document":
            assert all("#" not in h.doc_id and h.passage_id for h in hits)
    plain = searchers["plain"]
    answers = {
        repr(o): [(h.doc_id, h.score) for h in _expected(plain, "solar panel", o)]
        for name, o in CASES
        if name == "plain" and "fields" not in o
    }
    assert len(set(map(repr, answers.values()))) == len(answers)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_local_retrievers_equal_the_searcher(
    folders: dict[str, Path],
    searchers: dict[str, Searcher],
    name: str,
    options: dict[str, Any],
) -> None:
    lc_retriever = lc.HybridirRetriever.from_collection(folders[name], **options)
    li_retriever = li.HybridirRetriever.from_collection(folders[name], **options)
    for query in QUERIES:
        hits = _expected(searchers[name], query, options)
        _check_documents(lc_retriever.invoke(query), hits)
        _check_nodes(li_retriever.retrieve(query), hits)
    batch = lc_retriever.batch(QUERIES)
    for query, docs in zip(QUERIES, batch, strict=True):
        _check_documents(docs, _expected(searchers[name], query, options))


@pytest.mark.parametrize(("name", "options"), CASES)
def test_remote_retrievers_equal_the_searcher(
    base_url: str, searchers: dict[str, Searcher], name: str, options: dict[str, Any]
) -> None:
    """Over a real socket: the blocking httpx client of both adapters, LangChain's batch
    (threads sharing one client) and the async clients against the same server."""
    lc_retriever = lc.HybridirRetriever.from_url(base_url, name, KEY, **options)
    li_retriever = li.HybridirRetriever.from_url(base_url, name, api_key=KEY, **options)
    expected = [_expected(searchers[name], q, options) for q in QUERIES]
    for query, hits in zip(QUERIES, expected, strict=True):
        _check_documents(lc_retriever.invoke(query), hits)
        _check_nodes(li_retriever.retrieve(query), hits)
    for batch, hits in zip(lc_retriever.batch(QUERIES), expected, strict=True):
        _check_documents(batch, hits)

    async def both() -> tuple[list[list[LCDocument]], list[list[NodeWithScore]]]:
        docs = await lc_retriever.abatch(QUERIES)
        nodes = await asyncio.gather(*(li_retriever.aretrieve(q) for q in QUERIES))
        return docs, list(nodes)

    docs, nodes = asyncio.run(both())
    for d, n, hits in zip(docs, nodes, expected, strict=True):
        _check_documents(d, hits)
        _check_nodes(n, hits)


def test_remote_hits_equal_local_hits_with_contributions(
    base_url: str, folders: dict[str, Path]
) -> None:
    """The HTTP answer read back is the local ``Hit`` itself: scores exact through JSON,
    every list's contribution, content fields."""
    from hybridir.integrations._common import local_client

    local = local_client(folders["hybrid"])
    remote = RemoteClient(base_url, "hybrid", api_key=KEY)
    for options in (SearchOptions(k=8), SearchOptions(k=5, group_by="document")):
        for query in QUERIES:
            assert remote.search(query, options) == local.search(query, options)
    remote.close()


def test_async_over_the_asgi_app(config: ServerConfig, searchers: dict[str, Searcher]) -> None:
    """``ainvoke`` / ``aretrieve`` through an injected ``httpx.ASGITransport``: the app in
    this event loop, no socket."""
    transport = httpx.ASGITransport(create_app(config))
    options: dict[str, Any] = {"k": 5, "filters": {"lang": "en"}, "retriever": "hybrid"}
    lc_retriever = lc.HybridirRetriever.from_url(
        "http://adapter.test", "hybrid", KEY, async_transport=transport, **options
    )
    li_retriever = li.HybridirRetriever.from_url(
        "http://adapter.test", "hybrid", KEY, async_transport=transport, **options
    )

    async def ask() -> list[tuple[list[LCDocument], list[NodeWithScore]]]:
        return [(await lc_retriever.ainvoke(q), await li_retriever.aretrieve(q)) for q in QUERIES]

    for query, (docs, nodes) in zip(QUERIES, asyncio.run(ask()), strict=True):
        hits = _expected(searchers["hybrid"], query, options)
        _check_documents(docs, hits)
        _check_nodes(nodes, hits)


def test_local_async_runs_off_the_event_loop(
    folders: dict[str, Path], searchers: dict[str, Searcher]
) -> None:
    lc_retriever = lc.HybridirRetriever.from_collection(folders["plain"], k=6)
    li_retriever = li.HybridirRetriever.from_collection(folders["plain"], k=6)

    async def ask() -> tuple[list[list[LCDocument]], list[list[NodeWithScore]]]:
        docs = await lc_retriever.abatch(QUERIES)
        nodes = await asyncio.gather(*(li_retriever.aretrieve(q) for q in QUERIES))
        return docs, list(nodes)

    docs, nodes = asyncio.run(ask())
    for query, d, n in zip(QUERIES, docs, nodes, strict=True):
        hits = _expected(searchers["plain"], query, {"k": 6})
        _check_documents(d, hits)
        _check_nodes(n, hits)


def test_an_open_collection_and_a_live_write(tmp_path: Path) -> None:
    """``from_collection`` takes an open collection too, and sees writes made after it was
    built (each search reads the newest generation)."""
    col = Collection.create(tmp_path / "live")
    col.add([Document("a", "solar panel")])
    retriever = lc.HybridirRetriever.from_collection(col, k=3)
    assert [d.id for d in retriever.invoke("solar")] == ["a"]
    col.add([Document("b", "solar solar panel roof")])
    assert [d.id for d in retriever.invoke("solar")] == ["b", "a"]


def test_llamaindex_nodes_for_an_llm(folders: dict[str, Path]) -> None:
    """A passage's parent is its SOURCE; ranking keys stay out of the LLM's text."""
    (node,) = li.HybridirRetriever.from_collection(folders["plain"], k=1).retrieve("hydro")
    parent = node.node.metadata[PARENT]
    assert node.node.ref_doc_id == parent
    source = node.node.source_node
    assert source is not None
    assert source.node_id == parent
    for mode in (MetadataMode.LLM, MetadataMode.EMBED):
        shown = node.node.get_metadata_str(mode)
        assert "title: Title" in shown
        assert "score" not in shown
        assert "rank" not in shown
    assert "score" in node.node.get_metadata_str(MetadataMode.ALL)
    (doc,) = li.HybridirRetriever.from_collection(
        folders["plain"], k=1, group_by="document"
    ).retrieve("hydro")
    assert doc.node.node_id == parent
    assert NodeRelationship.SOURCE not in doc.node.relationships  # it is the document


def test_bad_options_fail_when_built(folders: dict[str, Path]) -> None:
    bad: list[dict[str, Any]] = [
        {"k": 0},
        {"retriever": "tfidf"},
        {"group_by": "chapter"},
        {"fields": ["body"]},
        {"fusion": {"method": "nope"}},
        {"fusion": {"weight": 2}},
    ]
    for options in bad:
        with pytest.raises(ConfigError):
            li.HybridirRetriever.from_collection(folders["plain"], **options)
        with pytest.raises((ConfigError, pydantic.ValidationError)):
            lc.HybridirRetriever.from_collection(folders["plain"], **options)
    for retriever in (li.HybridirRetriever, lc.HybridirRetriever):
        with pytest.raises((InvalidInputError, pydantic.ValidationError)):
            retriever.from_collection(folders["plain"], fields="text")
        with pytest.raises((ConfigError, pydantic.ValidationError), match="both fill"):
            retriever.from_collection(folders["plain"], fields=["text", "snippet"])


def test_errors_over_http(base_url: str, folders: dict[str, Path]) -> None:
    missing = lc.HybridirRetriever.from_url(base_url, "nope", KEY)
    with pytest.raises(NotFoundError, match="nope"):
        missing.invoke("solar")
    unauthorized = li.HybridirRetriever.from_url(base_url, "plain", api_key="wrong")
    with pytest.raises(HybridirError, match="401"):
        unauthorized.retrieve("solar")
    no_dense = lc.HybridirRetriever.from_url(base_url, "plain", KEY, retriever="dense")
    with pytest.raises(ConfigError, match="not indexed"):
        no_dense.invoke("solar")  # the server's 400, as the local search raises
    with pytest.raises(ConfigError, match="not indexed"):
        lc.HybridirRetriever.from_collection(folders["plain"], retriever="dense").invoke("x")
    too_far = lc.HybridirRetriever.from_url(base_url, "plain", KEY, k=5000)
    with pytest.raises(InvalidInputError, match="k must be"):
        too_far.invoke("solar")
    depths = li.HybridirRetriever.from_url(
        base_url, "hybrid", api_key=KEY, fusion={"depths": {"bm25": 5}}
    )
    with pytest.raises(ConfigError, match="cannot override fusion"):
        depths.retrieve("solar")
    with _serving(ServerConfig({"plain": folders["plain"]})) as gone:
        pass  # stopped: nothing listens there any more
    with pytest.raises(UnavailableError, match="did not answer"):
        lc.HybridirRetriever.from_url(gone, "plain", timeout=5).invoke("solar")


def test_a_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, framework, extra in (
        ("hybridir.integrations.langchain", "langchain_core.retrievers", "langchain"),
        ("hybridir.integrations.llamaindex", "llama_index.core.retrievers", "llamaindex"),
    ):
        monkeypatch.delitem(sys.modules, module)
        monkeypatch.setitem(sys.modules, framework, None)  # import of it fails
        with pytest.raises(MissingDependencyError, match=rf"hybridir\[{extra}\]"):
            __import__(module)


def test_the_package_imports_no_framework() -> None:
    code = (
        "import sys, hybridir.integrations; "
        "print(sorted(m for m in ('langchain_core', 'llama_index', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_versions_tested() -> None:
    """The framework versions this suite ran against (shown with ``pytest -rA``)."""
    versions = {"langchain-core": langchain_core.__version__}
    versions["llama-index-core"] = llama_index.core.__version__
    print(versions)
    assert all(versions.values())


def test_injected_transports(config: ServerConfig, searchers: dict[str, Searcher]) -> None:
    """The blocking client sends what the HTTP API reads (path, key, body) through a given
    transport and maps error answers; a given async transport is shared by the searches
    and left open for its owner."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if b'"overloaded"' in request.content:
            return httpx.Response(503, json={"status": 503, "detail": "shard 2 did not answer"})
        if b'"proxy"' in request.content:
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(200, json={"query": "q", "hits": []})

    retriever = lc.HybridirRetriever.from_url(
        "http://h.test/",
        "plain",
        KEY,
        transport=httpx.MockTransport(answer),
        k=3,
        filters={"lang": "en"},
        group_by="document",
        fields=["title"],
        fusion={"method": "rrf"},
        retriever="bm25",
    )
    assert retriever.invoke("solar") == []
    assert str(sent[0].url) == "http://h.test/collections/plain/search"
    assert sent[0].headers["X-API-Key"] == KEY
    assert json.loads(sent[0].content) == {
        "query": "solar",
        "k": 3,
        "group_by": "document",
        "fields": ["title"],
        "explain": False,
        "retriever": "bm25",
        "filter": {"lang": "en"},
        "fusion": {"method": "rrf"},
    }
    with pytest.raises(UnavailableError, match="shard 2 did not answer"):
        retriever.invoke("overloaded")
    with pytest.raises(HybridirError, match="502: <html>bad gateway"):
        retriever.invoke("proxy")

    class Owned(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.ASGITransport(create_app(config))
            self.closed = False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            assert not self.closed
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            self.closed = True

    owned = Owned()
    nodes = li.HybridirRetriever.from_url("http://h.test", "plain", KEY, async_transport=owned)

    async def twice() -> list[list[NodeWithScore]]:
        return [await nodes.aretrieve(q) for q in QUERIES[:2]]

    for query, got in zip(QUERIES[:2], asyncio.run(twice()), strict=True):
        _check_nodes(got, _expected(searchers["plain"], query, {}))
    assert not owned.closed
