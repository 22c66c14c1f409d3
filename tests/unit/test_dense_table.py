"""Transformer-free dense queries: the per-token table (pooling by hand, storage), its
fitting on a tiny seeded sentence-transformer, the query path with
``DenseConfig(query_mode="table")``, the CLI, and the errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.cli import main
from hybridir.config import DenseConfig
from hybridir.errors import ConfigError, IndexFormatError
from hybridir.learn.dense_fit import (
    TableFit,
    _attended,
    fit_dense_table,
    token_rows,
    train_dense_table,
)
from hybridir.learn.dense_table import DenseTable, attend, pool
from hybridir.learn.dense_texts import SOURCES, drawn_texts, random_spans, training_texts
from hybridir.learn.models import load_model
from hybridir.learn.store import save_model
from hybridir.learn.token_weights import TokenWeights
from hybridir.query import DENSE_QUERY_MODES, dense_queries

WORDS = ["[UNK]", "apple", "banana", "cherry", "pie", "tart"]

DOCS = [
    Document("d1", "Apple pie is baked with apples. It is sweet and warm.", "Apple pie"),
    Document("d2", "Banana bread needs ripe bananas. Bake it for an hour.", "Banana bread"),
    Document("d3", "Cherry tart has a crisp crust. Serve it cold in summer.", "Cherry tart"),
    Document("d4", "Pie crust is flour, butter and water, rested before baking.", "Crust"),
    Document("d5", "Fruit salad mixes apples, bananas and cherries with lime.", "Fruit salad"),
]
SMALL = TableFit(budget=40, epochs=3, batch_size=8, lr=0.01, init="tokens")


def word_tokenizer() -> str:
    """A whitespace word-level tokenizer over :data:`WORDS` (lowercased), as JSON."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {w: i for i, w in enumerate(WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return str(tokenizer.to_str())


def small_table(encoder: str = "tiny", max_tokens: int = 3) -> DenseTable:
    rows = np.arange(len(WORDS) * 4, dtype=np.float32).reshape(len(WORDS), 4) % 7 - 2
    empty = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    return DenseTable(rows, empty, word_tokenizer(), {"encoder": encoder, "max_tokens": max_tokens})


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


# -- the table -------------------------------------------------------------------------------


def test_pool_is_the_normalised_mean_of_rows() -> None:
    table = np.array([[1, 0], [0, 1], [3, 4]], dtype=np.float32)
    empty = np.array([0.0, 2.0], dtype=np.float32)
    got = pool(table, [np.array([0, 1]), np.array([2, 2, 0]), np.array([], np.int64)], empty)
    np.testing.assert_allclose(got[0], [2**-0.5, 2**-0.5], rtol=1e-6)
    np.testing.assert_allclose(got[1], unit(np.array([7.0, 8.0])), rtol=1e-6)  # repeats count
    np.testing.assert_allclose(got[2], [0.0, 1.0])  # no tokens: the empty text's vector
    assert got.dtype == np.float32


def test_encode_queries_equals_the_numpy_definition() -> None:
    table = small_table()
    ids = {w: i for i, w in enumerate(WORDS)}
    got = table.encode_queries(["Apple PIE", "banana durian", "cherry tart pie apple", ""])
    rows = table.table
    expected = [
        unit(rows[[ids["apple"], ids["pie"]]].mean(0)),
        unit(rows[[ids["banana"], ids["[UNK]"]]].mean(0)),  # unknown words: [UNK]'s row
        unit(rows[[ids["cherry"], ids["tart"], ids["pie"]]].mean(0)),  # cut at max_tokens=3
        unit(table.empty),
    ]
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-6)
    assert got.shape == (4, 4)


def test_attention_with_a_zero_map_pools_the_mean() -> None:
    rng = np.random.default_rng(3)
    table = rng.normal(size=(20, 6)).astype(np.float32)
    ids = [rng.integers(0, 20, size=n) for n in (1, 2, 7)] + [np.array([], np.int64)]
    empty = np.ones(6, np.float32)
    for heads in (1, 2, 3):
        got = attend(table, ids, empty, np.zeros((6, heads * 6), np.float32))
        np.testing.assert_allclose(got, pool(table, ids, empty), atol=1e-6)


def test_attention_weighs_tokens_by_the_softmax_of_each_head() -> None:
    """By hand: rows a=(1,0,0,0), b=(0,2,0,0); h = unit(a+b) = (1,2,0,0)/√5. Head 0's map
    copies h's first coordinate into its seed's first: seed (1/√5,0,0,0), logits a 1/√5,
    b 0. Head 1's map puts 3h₂ in its seed's second coordinate: seed (0,6/√5,0,0), logits
    a 0, b 12/√5. Head 0 gives dims 0-1, head 1 dims 2-3 (both zero here)."""
    table = np.array([[1, 0, 0, 0], [0, 2, 0, 0]], np.float32)
    query_map = np.zeros((4, 8), np.float32)
    query_map[0, 0] = 1.0  # head 0, seed coordinate 0 ← h₀
    query_map[1, 4 + 1] = 3.0  # head 1, seed coordinate 1 ← 3·h₁
    got = attend(table, [np.array([0, 1])], np.zeros(4, np.float32), query_map)[0]
    w = np.exp([1 / np.sqrt(5), 0.0])
    w /= w.sum()
    expected = unit(np.array([w[0] * 1, w[1] * 2, 0, 0]))  # head 0's slice: dims 0 and 1
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Repeating a token counts it twice, as in the mean.
    twice = attend(table, [np.array([0, 0, 1])], np.zeros(4, np.float32), query_map)[0]
    total = np.array([2, 2, 0, 0]) / np.linalg.norm([2, 2, 0, 0])
    logits = np.array([total[0], total[0], 0.0]) / 1.0
    w3 = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(twice, unit(np.array([w3[0] + w3[1], 2 * w3[2], 0, 0])), rtol=1e-6)


def test_attention_in_torch_equals_numpy_across_length_buckets() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, 12)).astype(np.float32)
    query_map = rng.normal(size=(12, 36)).astype(np.float32)
    parts = [rng.integers(0, 50, size=n) for n in (1, 3, 16, 17, 40, 2, 130, 5, 64, 65)]
    got = _attended(torch.from_numpy(rows), parts, torch.from_numpy(query_map))
    np.testing.assert_allclose(
        got.numpy(), attend(rows, parts, np.zeros(12, np.float32), query_map), atol=1e-5
    )


def test_a_query_map_must_fit_the_table() -> None:
    table = small_table()
    for shape in ((3, 4), (4, 6), (4, 12), (4,)):  # 3 rows; not × 4; 3 heads; 1-D
        with pytest.raises(IndexFormatError, match="query map must be"):
            DenseTable(table.table, table.empty, table.tokenizer_json, table.info, np.zeros(shape))


def test_stored_content_addressed_and_read_back(tmp_path: Path) -> None:
    table = small_table()
    name = save_model(tmp_path, table)
    assert name.startswith("dense-table-")
    assert save_model(tmp_path, small_table()) == name  # same content, same folder
    assert sorted(p.name for p in (tmp_path / name).iterdir()) == [
        "empty.npy",
        "meta.json",
        "table.npy",
        "tokenizer.json",
    ]
    loaded = load_model(tmp_path, name)
    assert isinstance(loaded, DenseTable)
    np.testing.assert_array_equal(loaded.table, table.table)
    np.testing.assert_array_equal(loaded.empty, table.empty)
    assert (
        loaded.meta()
        == table.meta()
        == {
            "vocab_size": 6,
            "dim": 4,
            "encoder": "tiny",
            "max_tokens": 3,
        }
    )
    texts = ["apple pie", "tart"]
    np.testing.assert_array_equal(loaded.encode_queries(texts), table.encode_queries(texts))


def test_attention_table_stored_and_read_back(tmp_path: Path) -> None:
    plain = small_table()
    query_map = (np.arange(32, dtype=np.float32).reshape(4, 8) % 5 - 2) / 4
    table = DenseTable(plain.table, plain.empty, plain.tokenizer_json, plain.info, query_map)
    assert table.heads == 2
    name = save_model(tmp_path, table)
    assert name != save_model(tmp_path, plain)  # the map is part of the content
    assert (tmp_path / name / "query_map.npy").is_file()
    loaded = load_model(tmp_path, name)
    assert isinstance(loaded, DenseTable)
    assert loaded.meta() == table.meta()
    assert loaded.meta()["heads"] == 2
    assert loaded.query_map is not None
    np.testing.assert_array_equal(loaded.query_map, query_map)
    texts = ["apple pie banana", "tart", ""]
    np.testing.assert_array_equal(loaded.encode_queries(texts), table.encode_queries(texts))
    ids = table.token_ids(texts)
    np.testing.assert_array_equal(
        table.encode_queries(texts), attend(table.table, ids, table.empty, query_map)
    )
    assert not np.allclose(table.encode_queries(texts)[0], plain.encode_queries(texts)[0])
    np.save(tmp_path / name / "query_map.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(IndexFormatError, match="query map is not float32 for 2 heads"):
        DenseTable.read(tmp_path / name, json.loads((tmp_path / name / "meta.json").read_text()))
    (tmp_path / name / "query_map.npy").unlink()
    with pytest.raises(IndexFormatError, match="cannot read dense table"):
        DenseTable.read(tmp_path / name, json.loads((tmp_path / name / "meta.json").read_text()))


def test_a_damaged_table_is_refused(tmp_path: Path) -> None:
    name = save_model(tmp_path, small_table())
    np.save(tmp_path / name / "table.npy", np.zeros((5, 4), np.float32))
    with pytest.raises(IndexFormatError, match="float32"):
        DenseTable.read(tmp_path / name, json.loads((tmp_path / name / "meta.json").read_text()))


# -- training texts --------------------------------------------------------------------------


def test_random_spans_are_consecutive_words() -> None:
    words = [["a", "b", "c", "d", "e"], ["x", "y"]]
    spans = random_spans(words, 50, np.random.default_rng(0), shortest=3, longest=4)
    assert len(spans) == 50
    assert all(s in {"a b c", "b c d", "c d e", "a b c d", "b c d e"} for s in spans)
    assert random_spans([["x"]], 5, np.random.default_rng(0)) == []


def test_training_texts_by_source_deterministic_and_order_free() -> None:
    texts = training_texts(DOCS, ["which pie is sweet"], budget=12, seed=1)
    assert list(texts) == list(SOURCES)
    assert texts["titles"] == ["Apple pie", "Banana bread", "Cherry tart", "Crust", "Fruit salad"]
    assert (
        texts["documents"][0] == "Apple pie Apple pie is baked with apples. It is sweet and warm."
    )
    assert len(texts["sentences"]) == 6  # budget // 2 of the 9 sentences
    assert 0 < len(texts["spans"]) <= 6
    assert texts["queries"] == ["which pie is sweet"]
    assert training_texts(reversed(DOCS), ["which pie is sweet"], budget=12, seed=1) == texts


def test_drawn_texts_name_each_title_and_sentence_source_document() -> None:
    texts, origins = drawn_texts(DOCS, ["which pie is sweet"], budget=12, seed=1)
    assert texts == training_texts(DOCS, ["which pie is sweet"], budget=12, seed=1)
    assert sorted(origins) == sorted({*texts["titles"], *texts["sentences"]})
    whole = {f"{d.title} {d.text}": d for d in DOCS}
    assert set(origins.values()) <= set(whole)
    assert set(whole) == set(texts["documents"])
    for text, source in origins.items():
        assert text == whole[source].title or text in whole[source].text
    assert origins["Banana bread"] == "Banana bread " + DOCS[1].text


# -- fitting on a tiny seeded model ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT (hidden size 32, seeded) with a WordPiece vocabulary learnt from
    :data:`DOCS` (so a pass over every token is quick), mean pooled and normalised, saved as
    a sentence-transformers folder."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    st = pytest.importorskip("sentence_transformers")
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import BertWordPieceTokenizer

    root = tmp_path_factory.mktemp("st")
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    texts = [f"{d.title} {d.text}" for d in DOCS]
    wordpiece.train_from_iterator(texts, vocab_size=200, min_frequency=1)
    wordpiece.save_model(str(root))
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(root / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    raw = root / "raw"
    transformers.BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = Transformer(str(raw), max_seq_length=32)
    model = st.SentenceTransformer(modules=[word, Pooling(32, "mean"), Normalize()], device="cpu")
    path = root / "tiny-encoder"
    model.save(str(path))
    return path


@pytest.fixture
def tiny_collection(
    tmp_path: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Collection]:
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))  # never the shared cache
    config = CollectionConfig(dense=DenseConfig(model=str(tiny_encoder_dir)))
    collection = Collection.create(tmp_path / "c", config)
    collection.add(DOCS)
    yield collection
    collection.close()


def test_fitted_table_shape_loss_and_determinism(tiny_collection: Collection) -> None:
    encoder = tiny_collection.encoder
    table = fit_dense_table(encoder, tiny_collection.snapshot(), ["sweet pie"], SMALL)
    vocab = table.table.shape[0]
    assert 50 < vocab <= 200
    assert table.table.shape == (vocab, 32)
    assert table.info["encoder"] == encoder.name
    assert table.max_tokens == 30  # the 32-token window less [CLS] and [SEP]
    assert table.info["texts"]["queries"] == 1
    losses = table.info["loss"]
    assert len(losses) == SMALL.epochs + 1
    assert losses[-1] < losses[0]
    again = fit_dense_table(encoder, list(reversed(DOCS)), ["sweet pie"], SMALL)
    np.testing.assert_array_equal(again.table, table.table)
    # Tokens absent from every training text keep their own encoder vector (rescaled).
    texts = training_texts(DOCS, ["sweet pie"], budget=SMALL.budget)
    seen = np.unique(np.concatenate(table.token_ids([t for v in texts.values() for t in v])))
    unseen = np.setdiff1d(np.arange(vocab), seen)
    assert len(unseen) > 0
    start = fit_dense_table(encoder, DOCS, ["sweet pie"], replace(SMALL, epochs=0))
    np.testing.assert_array_equal(table.table[unseen], start.table[unseen])
    assert not np.array_equal(table.table[seen], start.table[seen])
    vectors = table.encode_queries(["apple pie", "a warm cherry tart"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_attention_fit_starts_at_the_mean_and_learns_a_map(tiny_collection: Collection) -> None:
    encoder = tiny_collection.encoder
    settings = replace(SMALL, heads=2)
    table = fit_dense_table(encoder, DOCS, ["sweet pie"], settings)
    assert table.heads == 2
    assert table.query_map is not None
    assert table.query_map.shape == (32, 64)
    assert np.abs(table.query_map).max() > 0
    losses = table.info["loss"]
    assert losses[-1] < losses[0]
    assert table.info["settings"]["heads"] == 2
    # Before fitting, the map is zero and the rows are the mean-pooled table's: same loss.
    zero = fit_dense_table(encoder, DOCS, ["sweet pie"], replace(settings, epochs=0))
    plain = fit_dense_table(encoder, DOCS, ["sweet pie"], replace(SMALL, epochs=0))
    assert zero.info["loss"] == pytest.approx(plain.info["loss"], rel=1e-5)
    np.testing.assert_allclose(
        zero.encode_queries(["apple pie"]), plain.encode_queries(["apple pie"]), atol=1e-6
    )
    again = fit_dense_table(encoder, list(reversed(DOCS)), ["sweet pie"], settings)
    np.testing.assert_array_equal(again.table, table.table)
    np.testing.assert_array_equal(again.query_map, table.query_map)
    with pytest.raises(ConfigError, match="3 attention heads do not divide the encoder's 32"):
        fit_dense_table(encoder, DOCS, (), replace(SMALL, heads=3))


def test_unfitted_rows_reproduce_one_token_queries(tiny_collection: Collection) -> None:
    """LightRetriever's table before fitting: a one-token query's vector is the encoder's."""
    encoder = tiny_collection.encoder
    table = fit_dense_table(encoder, DOCS, (), TableFit(budget=10, epochs=0, init="tokens"))
    texts = ["apple", "pie", "water", ""]
    assert [len(ids) for ids in table.token_ids(texts)] == [1, 1, 1, 0]
    np.testing.assert_allclose(
        table.encode_queries(texts), encoder.encode_queries(texts), atol=1e-5
    )


@pytest.mark.parametrize("loss", ["cosine", "kl", "contrastive"])
def test_input_init_and_every_loss(tiny_collection: Collection, loss: str) -> None:
    settings = TableFit(budget=20, epochs=2, batch_size=8, init="input", loss=loss)
    table = fit_dense_table(tiny_collection.encoder, DOCS, (), settings)
    assert table.info["settings"]["init"] == "input"
    assert table.info["settings"]["loss"] == loss
    losses = table.info["loss"]
    if loss == "contrastive":  # its retrieval term is a cross-entropy over the documents
        assert losses[-1] < losses[0]
    else:  # The tiny random BERT is nearly linear in its input embeddings: the map fits it.
        assert max(losses) < 0.1


def test_token_rows_match_the_encoder(tiny_encoder_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_encoder_dir), device="cpu")
    rows = token_rows(model, 40, batch_size=16)
    assert rows.shape == (40, 32)
    ids = [i for i in range(5, 40) if not model.tokenizer.convert_ids_to_tokens(i).startswith("#")]
    words = model.tokenizer.convert_ids_to_tokens(ids)  # each alone is one token again
    np.testing.assert_allclose(rows[ids], model.encode(words, normalize_embeddings=True), atol=1e-5)


# -- the query path --------------------------------------------------------------------------


def test_query_path_uses_the_table(tiny_collection: Collection) -> None:
    name = train_dense_table(tiny_collection, tiny_collection.snapshot(), settings=SMALL)
    dense = tiny_collection.config.dense
    assert dense is not None
    assert (dense.query_mode, dense.query_model) == ("table", name)
    table = load_model(tiny_collection.models_dir, name)
    assert isinstance(table, DenseTable)
    queries = ["apple pie", "ripe bananas"]
    np.testing.assert_array_equal(
        dense_queries(tiny_collection.snapshot(), queries), table.encode_queries(queries)
    )
    # Hits rank the stored document vectors by their inner product with the table's vector.
    hits = Searcher(tiny_collection).search("ripe bananas", k=5, retriever="dense").hits
    docs = tiny_collection.snapshot().dense_vectors([d.doc_id for d in DOCS])
    scores = docs @ table.encode_queries(["ripe bananas"])[0]
    assert [h.doc_id for h in hits] == [DOCS[i].doc_id for i in np.argsort(-scores)]
    # Back to the encoder.
    tiny_collection.set_dense_query("encoder")
    assert tiny_collection.config.dense is not None
    assert tiny_collection.config.dense.query_mode == "encoder"
    np.testing.assert_allclose(
        dense_queries(tiny_collection.snapshot(), queries),
        tiny_collection.encoder.encode_queries(queries),
    )


def test_query_mode_errors(tiny_collection: Collection) -> None:
    with pytest.raises(ConfigError, match="unknown dense query mode 'lookup'"):
        tiny_collection.set_dense_query("lookup")
    with pytest.raises(ConfigError, match="needs query_model"):
        tiny_collection.set_dense_query("table")
    with pytest.raises(ConfigError, match="no trained model"):
        tiny_collection.set_dense_query("table", "dense-table-000000000000")
    with pytest.raises(ConfigError, match="invalid model name"):
        tiny_collection.set_dense_query("table", "../elsewhere")
    weights = save_model(tiny_collection.models_dir, TokenWeights(np.ones(3, np.float32), {}))
    tiny_collection.set_dense_query("table", weights)
    with pytest.raises(ConfigError, match="not a 'dense-table'"):
        dense_queries(tiny_collection.snapshot(), ["apple"])
    other = save_model(tiny_collection.models_dir, small_table(encoder="all-MiniLM-L6-v2"))
    tiny_collection.set_dense_query("table", other)
    with pytest.raises(ConfigError, match="distilled from 'all-MiniLM-L6-v2'"):
        dense_queries(tiny_collection.snapshot(), ["apple"])


def test_dense_config_validation_and_json() -> None:
    assert set(DENSE_QUERY_MODES) == {"encoder", "table"}
    with pytest.raises(ConfigError, match="valid: \\['encoder', 'table'\\]"):
        DenseConfig(query_mode="static")
    with pytest.raises(ConfigError, match="needs query_model"):
        DenseConfig(query_mode="table")
    with pytest.raises(ConfigError, match="invalid model name"):
        DenseConfig(query_mode="table", query_model="a/b")
    config = DenseConfig(query_mode="table", query_model="dense-table-abc")
    assert DenseConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in config.to_dict().items() if not k.startswith("query_m")}
    assert DenseConfig.from_dict(old).query_mode == "encoder"  # manifests from before


def test_fit_settings_and_encoder_are_checked() -> None:
    with pytest.raises(ConfigError, match="unknown dense table init 'zeros'"):
        TableFit(init="zeros")
    with pytest.raises(ConfigError, match="unknown dense table loss"):
        TableFit(loss="hinge")
    with pytest.raises(ConfigError, match="sources must be among"):
        TableFit(sources=("books",))
    with pytest.raises(ConfigError, match="batch_size >= 1"):
        TableFit(batch_size=0)
    with pytest.raises(ConfigError, match="heads >= 0"):
        TableFit(heads=-1)
    with pytest.raises(ConfigError, match="map_lr > 0"):
        TableFit(map_lr=0)

    class Hashing:
        name, dim, similarity = "hash", 4, "cosine"

    with pytest.raises(ConfigError, match="sentence-transformers model, not 'hash'"):
        fit_dense_table(Hashing(), DOCS)  # type: ignore[arg-type]


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_trains_activates_and_searches(
    tiny_collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(tiny_collection.directory)
    tiny_collection.close()
    assert main(["train", folder, "--model", "rescore"]) == 1
    assert "needs a DATASET" in capsys.readouterr().err
    assert main(["train", folder, "--model", "dense-table", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["active"] is True
    assert summary["dim"] == 32
    reopened = Collection.open(folder)
    assert reopened.config.dense is not None
    assert reopened.config.dense.query_model == summary["model"]
    reopened.close()
    assert main(["search", folder, "sweet apple pie", "--retriever", "dense", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["hits"]
    assert len(hits) == len(DOCS)
    # copy-model makes it another collection's query encoder (same document encoder).
    plain = CollectionConfig(dense=DenseConfig(model=reopened.config.dense.model))
    other = Collection.create(tiny_collection.directory.parent / "other", plain)
    other.close()
    argv = ["copy-model", folder, summary["model"], str(other.directory)]
    assert main(argv) == 0
    copied = Collection.open(other.directory)
    assert copied.config.dense is not None
    assert (copied.config.dense.query_mode, copied.config.dense.query_model) == (
        "table",
        summary["model"],
    )
    copied.close()
