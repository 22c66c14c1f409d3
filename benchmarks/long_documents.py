"""Long documents: chunked passages against paragraphs, sentences and whole articles.

XQuAD-R (``xquad-r/<lang>``, ids ``<article>-<paragraph>-<sentence>``) is reassembled into
one Markdown file per Wikipedia article (the title as a ``#`` heading, one block per
paragraph) and indexed four ways, each with BM25, the dense model and the default hybrid:

* ``chunked``: the folder of Markdown files through ``Collection.add_source`` with the
  default :class:`~hybridir.config.ChunkConfig` (passages measured in the dense model's
  tokens; the multilingual USE counts words);
* ``paragraphs``: one document per original paragraph;
* ``sentences``: the original corpus, one document per sentence;
* ``whole``: one document per article, no chunking (the encoder truncates it).

Passage level (``chunked``, ``paragraphs``, ``sentences``): Success@1/@5 — a returned unit
among the top 1/5 contains the judged sentence (compared without whitespace) — and MRR@10.
Article level (``chunked`` with ``group_by="document"`` against ``whole``): nDCG@10 with the
judged sentence's article as the one relevant document.

Example:
    .venv/bin/python benchmarks/long_documents.py --languages en de zh --json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track
from rich.table import Table

from hybridir import Collection, Searcher
from hybridir.config import AnalyzerConfig, ChunkConfig, CollectionConfig, DenseConfig
from hybridir.eval.datasets import load_beir
from hybridir.types import Document

MODELS = {"en": "sentence-transformers/all-MiniLM-L6-v2"}
"""Dense model per language; every other language uses the multilingual USE."""
MULTILINGUAL = "use-m"
MODES = ("bm25", "dense", "hybrid")
JOINERS = {"zh": "", "ja": "", "th": ""}
"""How a language's sentences join into a paragraph (scripts written without spaces)."""

err = Console(stderr=True)


def parts(doc_id: str) -> tuple[str, str, str]:
    """``(article, paragraph, sentence)`` of an XQuAD-R sentence id."""
    article, paragraph, sentence = doc_id.split("-")
    return article, paragraph, sentence


def articles(corpus: Mapping[str, Document], language: str) -> dict[str, tuple[str, list[str]]]:
    """``{article: (title, [paragraph text, …])}`` in id order."""
    joiner = JOINERS.get(language, " ")
    paragraphs: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    titles: dict[str, str] = {}
    for doc_id, doc in corpus.items():
        article, paragraph, sentence = parts(doc_id)
        paragraphs[(article, paragraph)].append((int(sentence), doc.text))
        titles[article] = doc.title.replace("_", " ")
    out: dict[str, tuple[str, list[str]]] = {}
    for (article, _), sentences in sorted(paragraphs.items(), key=lambda kv: _key(kv[0])):
        text = joiner.join(t for _, t in sorted(sentences))
        out.setdefault(article, (titles[article], []))[1].append(text)
    return out


def _key(pair: tuple[str, str]) -> tuple[int, int]:
    return int(pair[0]), int(pair[1])


def write_markdown(folder: Path, arts: Mapping[str, tuple[str, list[str]]]) -> None:
    """One ``<article>.md`` per article: ``# title`` then a blank-line separated paragraph
    per block."""
    folder.mkdir(parents=True)
    for article, (title, paragraphs) in arts.items():
        body = "\n\n".join(paragraphs)
        (folder / f"{article}.md").write_text(f"# {title}\n\n{body}\n", encoding="utf-8")


def config(language: str, chunked: bool) -> CollectionConfig:
    """BM25 with the language's analyzer plus its dense model."""
    model = MODELS.get(language, MULTILINGUAL)
    return CollectionConfig(
        analyzer=AnalyzerConfig(language=language),
        dense=DenseConfig(model=model),
        chunking=ChunkConfig() if chunked else None,
    )


def squash(text: str) -> str:
    """Text without whitespace (sentence containment that ignores how blocks were joined)."""
    return re.sub(r"\s+", "", text)


def passage_scores(
    ranked: Sequence[str], texts: Mapping[str, str], sentence: str
) -> tuple[float, float, float]:
    """Success@1, Success@5 and reciprocal rank (cut at 10) of one query."""
    target = squash(sentence)
    hits = [i for i, d in enumerate(ranked[:10], 1) if target in texts[d]]
    first = hits[0] if hits else math.inf
    return float(first <= 1), float(first <= 5), 1.0 / first if hits else 0.0


def article_ndcg(ranked: Sequence[str], relevant: str) -> float:
    """nDCG@10 with one relevant document (ideal DCG = 1)."""
    for i, d in enumerate(ranked[:10], 1):
        if d == relevant:
            return 1.0 / math.log2(i + 1)
    return 0.0


def build(
    directory: Path, cfg: CollectionConfig, add: Callable[[Collection], object]
) -> Collection:
    collection = Collection.create(directory, cfg)
    add(collection)
    return collection


def run_language(language: str, work: Path, limit: int | None) -> dict[str, Any]:
    data = load_beir(f"xquad-r/{language}")
    corpus = {d.doc_id: d for d in data.corpus()}
    judged = {q: next(iter(docs)) for q, docs in data.qrels.items()}
    queries = {q: text for q, text in data.queries.items() if q in judged}
    if limit:
        queries = dict(list(queries.items())[:limit])
    arts = articles(corpus, language)
    folder = work / language / "md"
    write_markdown(folder, arts)
    joiner = JOINERS.get(language, " ")
    paragraph_docs = []
    for article, (title, paragraphs) in arts.items():
        for p, text in enumerate(paragraphs):
            paragraph_docs.append(Document(f"{article}-{p}", text, title))
    whole_docs = [
        Document(f"{article}.md", joiner.join(ps) if joiner else "".join(ps), title)
        for article, (title, ps) in arts.items()
    ]
    err.print(f"[bold]{language}[/]: {len(arts)} articles, {len(paragraph_docs)} paragraphs")
    cols = {
        "chunked": build(
            work / language / "chunked",
            config(language, True),
            lambda c: c.add_source(folder, show_progress=True),
        ),
        "paragraphs": build(
            work / language / "paragraphs",
            config(language, False),
            lambda c: c.add(paragraph_docs, show_progress=True),
        ),
        "sentences": build(
            work / language / "sentences",
            config(language, False),
            lambda c: c.add(list(corpus.values()), show_progress=True),
        ),
        "whole": build(
            work / language / "whole",
            config(language, False),
            lambda c: c.add(whole_docs, show_progress=True),
        ),
    }
    sizes = {name: len(c) for name, c in cols.items()}
    out: dict[str, Any] = {"units": sizes, "queries": len(queries), "passage": {}, "article": {}}
    for name in ("chunked", "paragraphs", "sentences"):
        col = cols[name]
        texts = {d.doc_id: squash(d.text) for d in col}
        searcher = Searcher(col)
        for mode in MODES:
            run = searcher.run(queries, k=10, retriever=mode)
            rows = [
                passage_scores(
                    sorted(run[q], key=lambda d, r=run[q]: (-r[d], d)),  # type: ignore[misc]
                    texts,
                    corpus[judged[q]].text,
                )
                for q in queries
            ]
            out["passage"][f"{name}/{mode}"] = {
                "success@1": statistics.fmean(r[0] for r in rows),
                "success@5": statistics.fmean(r[1] for r in rows),
                "mrr@10": statistics.fmean(r[2] for r in rows),
            }
    for name, group in (("chunked", "document"), ("whole", "passage")):
        searcher = Searcher(cols[name])
        for mode in MODES:
            scores = []
            for q, text in track(
                list(queries.items()), description=f"{language} {name} {mode}", console=err
            ):
                hits = searcher.search(
                    text, k=10, retriever=mode, group_by=group, fields=(), explain=False
                ).hits
                relevant = f"{parts(judged[q])[0]}.md"
                scores.append(article_ndcg([h.doc_id for h in hits], relevant))
            out["article"][f"{name}/{mode}"] = {"ndcg@10": statistics.fmean(scores)}
    for col in cols.values():
        col.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", nargs="+", default=["en", "de", "zh"])
    parser.add_argument("--limit", type=int, default=None, help="first N queries only")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for language in args.languages:
            results[language] = run_language(language, Path(tmp), args.limit)
    out = Console()
    for language, res in results.items():
        table = Table(title=f"xquad-r/{language}: passage level ({res['units']})")
        for col in ("index/list", "Success@1", "Success@5", "MRR@10"):
            table.add_column(col)
        for key, row in res["passage"].items():
            table.add_row(key, *(f"{row[m]:.4f}" for m in ("success@1", "success@5", "mrr@10")))
        out.print(table)
        table = Table(title=f"xquad-r/{language}: article level nDCG@10")
        table.add_column("list")
        table.add_column("chunked (MaxP)")
        table.add_column("whole articles")
        for mode in MODES:
            table.add_row(
                mode,
                f"{res['article'][f'chunked/{mode}']['ndcg@10']:.4f}",
                f"{res['article'][f'whole/{mode}']['ndcg@10']:.4f}",
            )
        out.print(table)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
