"""Dense retrieval: encoders, the embedding cache and the FAISS vector index."""

from hybridir.dense.cache import EmbeddingCache, encode_documents_cached
from hybridir.dense.encoders import Encoder, SentenceTransformerEncoder, resolve_model
from hybridir.dense.vectors import VectorIndex

__all__ = [
    "EmbeddingCache",
    "Encoder",
    "SentenceTransformerEncoder",
    "VectorIndex",
    "encode_documents_cached",
    "resolve_model",
]
