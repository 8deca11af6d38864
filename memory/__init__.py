"""Episodic memory and document retrieval (SQLite + FAISS). Filled in by the memory issue."""
