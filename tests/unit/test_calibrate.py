"""Self-supervised calibration, its parts by hand: pseudo-queries leave their text out, the
left-out BM25 score equals the index's own score, a replaced entry lands at its rank, and
the evidence round-trips through the collection's config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybridir import BM25Config, Collection, CollectionConfig, Document
from hybridir.config import Calibration, FusionConfig
from hybridir.errors import ConfigError
from hybridir.learn.calibrate import (
    _draw,
    bm25_left_out,
    calibrate,
    describe,
    pseudo_queries,
    replaced,
)
from hybridir.types import RankedList

DOCS = [
    Document("a", "Solar panels turn light into power. They sit on many roofs today.", "Solar"),
    Document(
        "b", " ".join(["wind turbines spin at sea and on hills where the wind is steady"] * 4)
    ),
    Document("f", "one lowercase sentence without an end that is far too short to cut"),
    Document("c", "Tides rise twice a day. Tidal power plants use the height difference."),
    Document("d", "short text"),
    Document("e", "Batteries store power for the night. Solar panels charge them by day."),
]


@pytest.fixture
def collection(tmp_path: Path) -> Collection:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    return col


def test_a_replaced_entry_lands_at_the_rank_its_score_earns() -> None:
    ranked = RankedList(["x", "s", "y", "z"], [5.0, 4.0, 3.0, 1.0])
    moved = replaced(ranked, "s", 2.0, depth=10)
    assert (moved.doc_ids, moved.scores) == (["x", "y", "s", "z"], [5.0, 3.0, 2.0, 1.0])
    tied = replaced(ranked, "s", 3.0, depth=10)  # equal scores: doc id order ("s" < "y")
    assert tied.doc_ids == ["x", "s", "y", "z"]
    assert replaced(ranked, "s", 0.5, depth=3).doc_ids == ["x", "y", "z"]  # below the cut
    absent = replaced(RankedList(["x"], [1.0]), "s", 9.0, depth=5)  # not retrieved before
    assert absent.doc_ids == ["s", "x"]


def test_pseudo_queries_leave_their_text_out_and_repeat_with_the_seed(
    collection: Collection,
) -> None:
    view = collection.snapshot()
    drawn = pseudo_queries(view, 10, seed=3)
    assert {p.doc_id for p in drawn} == {"a", "b", "c", "e"}  # "d", "f": too short for either
    for p in drawn:
        doc = view.get(p.doc_id)
        assert p.query in doc.text
        assert p.query not in p.remainder.text
        assert p.remainder.title == doc.title
        assert len(p.remainder.text.split()) + len(p.query.split()) == len(doc.text.split())
    by_id = {p.doc_id: p for p in drawn}
    assert by_id["a"].query in {
        "Solar panels turn light into power.",
        "They sit on many roofs today.",
    }  # two sentences: one of them, whole
    assert 6 <= len(by_id["b"].query.split()) <= 28  # no sentence boundary: a span, <= half
    assert pseudo_queries(view, 10, seed=3) == drawn
    assert len(pseudo_queries(view, 2, seed=3)) == 2
    _, share = _draw(view, 10, seed=3)
    assert share == pytest.approx(4 / 6)  # how well they stand for the collection


@pytest.mark.parametrize("variant", ["lucene", "robertson", "atire", "bm25l", "bm25+"])
def test_left_out_bm25_equals_the_index_score_of_the_same_text(
    tmp_path: Path, variant: str
) -> None:
    """Scoring an indexed document's own text must give the score the index gives it."""
    col = Collection.create(tmp_path / variant, CollectionConfig(bm25=BM25Config(variant=variant)))
    col.add(DOCS)
    view = col.snapshot()
    query = view.analyzer.analyze("solar power panels at sea, solar")
    index_scores = view.bm25.score_all(query)
    for row, doc_id in enumerate(view.bm25.doc_ids):
        got = bm25_left_out(view, [query], [view.get(doc_id)])[0]
        np.testing.assert_allclose(got, index_scores[row], rtol=1e-5, atol=1e-6)


def test_calibration_refuses_what_it_cannot_calibrate(collection: Collection) -> None:
    with pytest.raises(ConfigError, match="two lists"):
        calibrate(collection)
    with pytest.raises(ConfigError, match="at least 50 pseudo-queries, got 3"):
        calibrate(collection, queries=3)
    # A huge count drew round after round from a small collection without end.
    with pytest.raises(ConfigError, match="at most 10000 pseudo-queries, got 99999999999"):
        calibrate(collection, queries=99_999_999_999)
    # A negative seed was numpy's ValueError and a traceback from the CLI.
    with pytest.raises(ConfigError, match="seed must be >= 0, got -1"):
        calibrate(collection, seed=-1)
    with pytest.raises(ConfigError, match="seed must be >= 0, got -1"):
        pseudo_queries(collection.snapshot(), 10, seed=-1)


def test_calibration_never_replaces_a_trained_fusion(tmp_path: Path) -> None:
    trained = FusionConfig(method="adaptive", model="adaptive-0123")
    collection = Collection.create(tmp_path / "t", CollectionConfig(fusion=trained))
    with pytest.raises(ConfigError, match="trained model"):
        calibrate(collection)
    assert Collection.open(collection.directory).config.fusion == trained


def _evidence(fusion: FusionConfig, after: float) -> Calibration:
    return Calibration(
        fusion=fusion.to_dict(),
        queries=200,
        seed=0,
        metric="ndcg@10",
        lists={"bm25": 0.7},
        before=0.6,
        after=after,
        cv_gain=after - 0.6,
        p_value=0.01,
        seconds=1.0,
    )


def test_the_description_says_what_was_chosen_or_kept() -> None:
    won = describe(_evidence(FusionConfig(method="convex", norm="dbsf", alpha=0.3), 0.7))
    assert won.endswith("0.600 → 0.700 out of fold): convex, alpha 0.3")
    kept = describe(_evidence(FusionConfig(), 0.5))
    assert kept.endswith("): dbsf (kept: nothing beat it)")


def test_the_evidence_round_trips_and_says_where_the_fusion_comes_from(
    collection: Collection,
) -> None:
    assert collection.config.fusion_source() == "default"
    chosen = FusionConfig(method="convex", norm="dbsf", alpha=0.3)
    evidence = Calibration(
        fusion=chosen.to_dict(),
        queries=200,
        seed=0,
        metric="ndcg@10",
        lists={"bm25": 0.7, "dense": 0.4},
        before=0.6,
        after=0.72,
        cv_gain=0.12,
        p_value=0.001,
        seconds=3.5,
    )
    collection.set_calibration(chosen, evidence)
    again = Collection.open(collection.directory).config
    assert again.calibration == evidence
    assert again.fusion == chosen
    assert again.fusion_source() == "calibration"
    assert CollectionConfig.from_dict(again.to_dict()) == again
    collection.set_fusion(FusionConfig(method="rrf"))  # tuned or set by hand afterwards
    assert Collection.open(collection.directory).config.fusion_source() == "set"
