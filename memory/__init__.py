"""Episodic memory and document retrieval on SQLite (source of truth) + FAISS (derived indexes).

One :class:`Store` per data directory holds the database and the vector indexes; :class:`Memory`
(what users told the agent) and :class:`Documents` (their files, for RAG) are views over it and
may share one store::

    store = Store(settings)
    memory, documents = Memory(store, llm), Documents(store)

See ``docs/memory.md`` for the design, the files in the data directory and the guarantees.
"""

from memory.chunking import Chunk, chunk_text, count_tokens
from memory.documents import Citation, DocumentHit, Documents, IngestError, IngestReport
from memory.embeddings import (
    Embedder,
    EmbeddingCache,
    HashEmbedder,
    MiniLMEmbedder,
    embedder_names,
    open_embedder,
)
from memory.episodic import AddResult, Memory, MemoryHit, MemoryRecord
from memory.store import Store

__all__ = [
    "AddResult",
    "Chunk",
    "Citation",
    "DocumentHit",
    "Documents",
    "Embedder",
    "EmbeddingCache",
    "HashEmbedder",
    "IngestError",
    "IngestReport",
    "Memory",
    "MemoryHit",
    "MemoryRecord",
    "MiniLMEmbedder",
    "Store",
    "chunk_text",
    "count_tokens",
    "embedder_names",
    "open_embedder",
]
