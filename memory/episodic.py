"""Episodic memory: what each user told the agent, searchable, superseded, forgettable.

A record is a ``fact`` (something the user stated), a ``turn`` (a conversation line) or a
``summary``. Rules that keep the store clean:

- **Write filter.** Only what the user stated becomes a fact: a fact must come with
  ``role="user"`` and ``source="user"`` (or ``"import"``); questions are not facts; text that
  appears in what the caller passes as ``context`` (recalled memories, retrieved document text,
  the model's replies) or in memories this object recalled recently is refused. That breaks the
  loop in which a memory is recalled into the prompt and re-extracted as a "new" fact.
- **No distinct fact is dropped.** A fact at least ``duplicate_threshold`` similar to a current
  fact of the same user refreshes that fact (bumps ``refreshed``) only when nothing that matters
  differs (:func:`_same_content`): case, punctuation, articles, contractions and a few filler
  words ("now", "really", "also", "just", "still", "actually"). Any other word (a number, a
  name, a colour, a place) makes it a new fact with its own row. Similarity alone is not enough:
  MiniLM puts "Locker 12 holds 3 red boxes" and "... 4 red boxes" at 0.965.
- **Superseding by slot.** A new fact replaces the current facts of the same user that
  :func:`memory._slots.slot` parses to the same ``(subject, attribute)`` ("I live in
  Paris" / "I moved to Berlin": ``("i", "residence")``) when their content differs; they get
  ``valid_to`` and ``superseded_by`` and stay in the history. Facts the slot rule does not
  recognise never supersede anything, and no model is asked: the 270M model's yes/no answers
  replaced 14 of 19 unrelated facts. The candidates are all the user's current facts, not only
  the nearest vectors: MiniLM puts "I just moved to Lyon" and "I'm all settled in Lisbon now"
  at 0.43, below many unrelated facts of a user with a long history. See
  :meth:`Memory._slot_facts` for why the slot is parsed at lookup time rather than stored.
  Default search shows current facts only; ``include_history=True`` shows all, and
  :meth:`Memory.current_slot` answers "where do I live (and where did I before)?".
- **Search** ranks by ``(1 - w) * cosine + w * 0.5 ** (age_days / half_life)`` with
  ``w = recency_weight``, age counted from the last time the fact was stated. Scoped by user,
  across all that user's threads unless ``thread`` is given.
- **Forget** is a hard delete: row, vector (index file rewritten), cached embedding, then
  :meth:`~memory.store.Store.erase`: a WAL checkpoint on SQLite (whose ``secure_delete`` has
  zeroed the freed pages), ``VACUUM FULL`` of the touched tables on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from agent.errors import ConfigError, MemoryNotFoundError
from memory._slots import slot
from memory.store import Store

if TYPE_CHECKING:
    from agent.llm import LLM
    from agent.settings import Settings

__all__ = ["AddResult", "Memory", "MemoryHit", "MemoryRecord"]

Kind = Literal["fact", "turn", "summary"]
KINDS: tuple[str, ...] = ("fact", "turn", "summary")
FACT_SOURCES = ("user", "import")
TimeLike = datetime | float | int
#: LIMIT for "no limit" that both SQLite and PostgreSQL accept.
_NO_LIMIT = 2**63 - 1

_COLUMNS = (
    "id, user, thread, role, kind, text, source, created, refreshed, valid_from, "
    "valid_to, superseded_by, metadata"
)


def _ts(value: TimeLike | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


# -- the content rule for near-duplicates ------------------------------------------------------
# Deliberately small: it only has to say "nothing but filler differs". Whatever it does not
# understand (ordinals, "1.5" vs "one and a half", a reordering) counts as a difference, so the
# worst case is an extra row, never a lost fact.

#: Words whose presence or absence never changes what a fact says.
_FILLER = frozenset("a an the now really also just still actually".split())
_TOKEN = re.compile(r"\d+(?:[.,:/-]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_IRREGULAR = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "let's": "let us",
}
_SUFFIXES = (
    ("n't", " not"),
    ("'m", " am"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'d", " would"),
)
#: "'s" is "is" only after these; after a name it is a possessive and stays part of the word.
_IS_AFTER = frozenset("it he she that there what who where here how".split())
_UNITS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * n
    for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


def _expand(token: str) -> list[str]:
    if token in _IRREGULAR:
        return _IRREGULAR[token].split()
    for suffix, full in _SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return [token[: -len(suffix)], *full.split()]
    if token.endswith("'s") and token[:-2] in _IS_AFTER:
        return [token[:-2], "is"]
    return [token]


def _numbers(words: list[str]) -> list[str]:
    """Runs of number words become one decimal numeral: "twenty three" -> "23"."""
    out: list[str] = []
    total = current = 0
    in_number = False
    for word in [*words, ""]:
        if word in _UNITS or word in _TENS or (word in _SCALES and in_number):
            in_number = True
            if word in _SCALES:
                current = max(current, 1) * _SCALES[word]
                if _SCALES[word] >= 1000:
                    total, current = total + current, 0
            else:
                current += _UNITS.get(word, 0) + _TENS.get(word, 0)
            continue
        if in_number:
            out.append(str(total + current))
            total = current = 0
            in_number = False
        if word:
            out.append(word)
    return out


def _content(text: str) -> tuple[str, ...]:
    """The words of ``text`` that carry its content, normalised (see :func:`_same_content`)."""
    words: list[str] = []
    for token in _TOKEN.findall(text.lower().translate(_APOSTROPHES)):
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token):
            token = token.replace(",", "")
        words += _expand(token)
    return tuple(w for w in _numbers(words) if w not in _FILLER)


def _same_content(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` state the same thing, differing at most in filler.

    Filler is case, punctuation, articles, contractions ("I'm" / "I am", "don't" / "do not"),
    number words against digits ("three" / "3") and the words "now", "really", "also", "just",
    "still", "actually". Any other difference (a number, a name, a date, a colour, a place, a
    quantity, a negation, the order of the words) means a different fact.

    Example:
        >>> _same_content("I'm really in Paris now.", "i am in paris")
        True
        >>> _same_content("Locker 12 holds three red boxes", "Locker 12 holds 3 red boxes!")
        True
        >>> _same_content("Locker 12 holds 3 red boxes", "Locker 12 holds 4 red boxes")
        False
        >>> _same_content("Locker 12 holds 3 red boxes", "Locker 12 holds 3 blue boxes")
        False
        >>> _same_content("Dmitri keeps a loom in Perth", "Jonas keeps a loom in Perth")
        False
        >>> _same_content("I like tea", "I don't like tea")
        False
        >>> _same_content("My train leaves on 2025-03-01", "My train leaves on 2025-03-02")
        False
        >>> _same_content("Anna's car is red", "Anna car is red")
        False
    """
    return _content(a) == _content(b)


@dataclass(frozen=True)
class MemoryRecord:
    """One stored memory. Dates are timezone-aware UTC."""

    id: int
    user: str
    thread: str | None
    role: str
    kind: str
    text: str
    source: str
    created: datetime
    refreshed: datetime
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: int | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        """False once superseded (``valid_to`` set)."""
        return self.valid_to is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO dates), the line format of :meth:`Memory.export`."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def _from_row(cls, row: Sequence[Any]) -> MemoryRecord:
        (
            id_,
            user,
            thread,
            role,
            kind,
            text,
            source,
            created,
            refreshed,
            valid_from,
            valid_to,
            superseded_by,
            metadata,
        ) = row[:13]
        return cls(
            id_,
            user,
            thread,
            role,
            kind,
            text,
            source,
            _dt(created),
            _dt(refreshed),
            _dt(valid_from),
            _dt(valid_to),
            superseded_by,  # type: ignore[arg-type]
            json.loads(metadata),
        )


@dataclass(frozen=True)
class MemoryHit:
    """A search result: the record and how it scored."""

    record: MemoryRecord
    score: float
    similarity: float
    recency: float


@dataclass(frozen=True)
class AddResult:
    """What :meth:`Memory.add` did: ``added``, ``refreshed`` (a near-duplicate) or ``rejected``."""

    action: Literal["added", "refreshed", "rejected"]
    record: MemoryRecord | None
    superseded: tuple[int, ...] = ()
    reason: str | None = None


class Memory:
    """Episodic memory over a :class:`~memory.store.Store`.

    Args:
        store: the database and indexes.
        llm: kept for callers that hand the agent's model to its memory; it is not consulted
            (superseding is decided by the slot rule, see the module docstring).
        clock: seconds since the epoch (tests pass a fake clock).

    Example:
        >>> import tempfile; from agent.settings import load_settings
        >>> s = load_settings({"home": tempfile.mkdtemp(), "embedder": "hash"}, env={})
        >>> with Memory.open(s) as mem:
        ...     mem.add("I live in Paris", user="ann").action
        ...     mem.search("where do I live", user="ann")[0].record.text
        'added'
        'I live in Paris'
    """

    def __init__(
        self, store: Store, llm: LLM | None = None, clock: Callable[[], float] = time.time
    ):
        self.store = store
        self.settings = store.settings
        self.llm = llm
        self.clock = clock
        # (user, normalised text) of what search returned: that user's recalled memories
        self._recalled: deque[tuple[str, str]] = deque(maxlen=512)
        # text -> slot(text); a pure function of the text, so it never goes stale
        self._slots: dict[str, tuple[str, str] | None] = {}
        self._check_settings()

    @classmethod
    def open(cls, settings: Settings, llm: LLM | None = None, **kwargs: Any) -> Memory:
        """Open the store in ``settings.home`` and wrap it."""
        return cls(Store(settings, kwargs.pop("embedder", None)), llm, **kwargs)

    def _check_settings(self) -> None:
        s = self.settings
        if s.recency_half_life_days <= 0 or not 0 <= s.recency_weight <= 1:
            raise ConfigError("recency_half_life_days must be > 0 and recency_weight in [0, 1]")

    @property
    def _space(self) -> Any:
        return self.store.spaces["memories"]

    # -- writing -------------------------------------------------------------------------

    def add(
        self,
        text: str,
        user: str,
        *,
        thread: str | None = None,
        role: str = "user",
        kind: Kind = "fact",
        source: str = "user",
        metadata: dict[str, Any] | None = None,
        created: TimeLike | None = None,
        context: Iterable[str] = (),
        keep: Collection[int] = (),
    ) -> AddResult:
        """Store ``text`` for ``user`` subject to the write filter (see the module docstring).

        Args:
            context: texts the user did *not* state (recalled memories, retrieved document
                text, model replies); a fact found inside one of them is refused.
            keep: ids of facts this one must not supersede, whatever its slot (the other
                facts of the same message: "my partner Luca is a chef, he runs a trattoria").

        Returns:
            :class:`AddResult`; ``rejected`` carries the reason.

        Example:
            >>> # mem.add("I moved to Berlin", user="ann")  -> supersedes "I live in Paris"
            >>> # (both parse to the slot ("i", "residence"))
        """
        text = text.strip()
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if not text:
            return AddResult("rejected", None, reason="empty text")
        if kind == "fact":
            reason = self._filter_fact(text, user, role, source, context)
            if reason:
                return AddResult("rejected", None, reason=reason)
        now = _ts(created) if created is not None else self.clock()
        assert now is not None
        vec = self.store.cache.embed([text])[0]
        if kind == "fact":
            for rec, sim in self._current_facts_near(vec, user):
                if sim < self.settings.duplicate_threshold:
                    break
                if _same_content(rec.text, text):
                    return self._refresh(rec.id, now)
        superseded: list[int] = []
        same: int | None = None
        with self.store.write() as conn:
            # Inside the write transaction: two processes recording a move at once must not
            # both leave a current fact for the same slot.
            if kind == "fact":
                superseded, same = self._same_slot(conn, user, text)
                superseded = [i for i in superseded if i not in keep]
            if same is not None:
                self._bump(conn, same, now)
            else:
                cur = conn.execute(
                    "INSERT INTO memories (user, thread, role, kind, text, source, created, "
                    "refreshed, valid_from, valid_to, superseded_by, metadata, vec) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                    (
                        user,
                        thread,
                        role,
                        kind,
                        text,
                        source,
                        now,
                        now,
                        now,
                        json.dumps(metadata or {}),
                        vec.astype(np.float32).tobytes(),
                    ),
                )
                new_id = int(cur.lastrowid)  # type: ignore[arg-type]
                for old in superseded:
                    conn.execute(
                        "UPDATE memories SET valid_to=?, superseded_by=? "
                        "WHERE id=? AND valid_to IS NULL",
                        (now, new_id, old),
                    )
                self.store.log_changes(conn, "memories", [new_id])
        if same is not None:
            return AddResult("refreshed", self.get(same))
        return AddResult("added", self.get(new_id), tuple(superseded))

    def _filter_fact(
        self, text: str, user: str, role: str, source: str, context: Iterable[str]
    ) -> str | None:
        if role != "user" or source not in FACT_SOURCES:
            return (
                f"only what the user stated becomes a fact (role={role!r}, source={source!r}); "
                "store model replies as kind='turn'"
            )
        if text.rstrip().endswith("?"):
            return "a question is not a fact"
        norm = _norm(text)
        if norm and any(norm in _norm(c) for c in context):
            return "the text comes from recalled or retrieved context, not from the user"
        if (user, norm) in self._recalled:
            return "the text is a memory recalled in this session, not a new statement"
        return None

    def _current_facts_near(self, vec: np.ndarray, user: str) -> list[tuple[MemoryRecord, float]]:
        return self._candidates(vec, user, 8, ("fact",), None, None, False, None)

    def _slot(self, text: str) -> tuple[str, str] | None:
        if text not in self._slots:
            if len(self._slots) >= 100_000:
                self._slots.clear()
            parsed = slot(text)
            self._slots[text] = None if parsed is None else (parsed[0].lower(), parsed[1].lower())
        return self._slots[text]

    def _slot_facts(
        self, conn: Any, user: str, want: tuple[str, str], include_history: bool = False
    ) -> list[tuple[int, str]]:
        """``(id, text)`` of the user's facts (current ones unless ``include_history``) whose
        slot is ``want``, by id.

        The slot is parsed here, from the text, rather than stored with the row: the parser is
        being extended, and a stored slot would go stale with every change to it (rows stored
        before would need a migration); ``metadata`` belongs to the caller (``update`` replaces
        it, ``export`` writes it); imported and edited rows would need it computed too. The
        scan reads ``(id, text)`` through the ``(user, kind, ...)`` index and parses each text
        once per process (cached). At 3,000 current facts it measured 5-10 ms on a busy
        2-core machine, nearly all of it SQLite reading the rows (each holds its 1.5 KB
        vector); only facts whose own slot was recognised pay it
        (bench/bench_distinct_facts.py).
        """
        sql = "SELECT id, text FROM memories WHERE user=? AND kind='fact'"
        if not include_history:
            sql += " AND valid_to IS NULL"
        rows = conn.execute(sql + " ORDER BY id", (user,)).fetchall()
        return [(int(i), t) for i, t in rows if self._slot(t) == want]

    def _same_slot(self, conn: Any, user: str, text: str) -> tuple[list[int], int | None]:
        """Current facts ``text`` supersedes, or (``[]``, id) of one it merely restates."""
        want = self._slot(text)
        if want is None:
            return [], None
        olds = self._slot_facts(conn, user, want)
        for mid, old in olds:
            if _same_content(old, text):
                return [], mid
        return [mid for mid, _ in olds], None

    def _bump(self, conn: Any, memory_id: int, now: float) -> None:
        meta = json.loads(
            conn.execute("SELECT metadata FROM memories WHERE id=?", (memory_id,)).fetchone()[0]
        )
        meta["times_stated"] = int(meta.get("times_stated", 1)) + 1
        conn.execute(
            "UPDATE memories SET refreshed=?, metadata=? WHERE id=?",
            (now, json.dumps(meta), memory_id),
        )

    def _refresh(self, memory_id: int, now: float) -> AddResult:
        with self.store.write() as conn:
            self._bump(conn, memory_id, now)
        return AddResult("refreshed", self.get(memory_id))

    def update(
        self, memory_id: int, *, text: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        """Change a memory's text (re-embedded) and/or metadata (replaced).

        Raises:
            MemoryNotFoundError: no memory ``memory_id``.
        """
        self.get(memory_id)
        with self.store.write() as conn:
            if text is not None:
                vec = self.store.cache.embed([text.strip()])[0]
                conn.execute(
                    "UPDATE memories SET text=?, vec=? WHERE id=?",
                    (text.strip(), vec.astype(np.float32).tobytes(), memory_id),
                )
                self.store.log_changes(conn, "memories", [memory_id])
            if metadata is not None:
                conn.execute(
                    "UPDATE memories SET metadata=? WHERE id=?", (json.dumps(metadata), memory_id)
                )
        return self.get(memory_id)

    def supersede(self, old_id: int, new_id: int) -> None:
        """Mark ``old_id`` as replaced by ``new_id`` now (the manual form of superseding)."""
        self.get(old_id)
        self.get(new_id)
        with self.store.write() as conn:
            conn.execute(
                "UPDATE memories SET valid_to=?, superseded_by=? WHERE id=?",
                (self.clock(), new_id, old_id),
            )

    # -- reading -------------------------------------------------------------------------

    def get(self, memory_id: int) -> MemoryRecord:
        """The memory ``memory_id``.

        Raises:
            MemoryNotFoundError: there is none (never stored, or forgotten).
        """
        with self.store.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE id=?", (int(memory_id),)
            ).fetchone()
        if row is None:
            raise MemoryNotFoundError(int(memory_id))
        return MemoryRecord._from_row(row)

    def list(
        self,
        user: str | None = None,
        *,
        kinds: Sequence[str] | None = None,
        include_history: bool = False,
        thread: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[MemoryRecord]:
        """Memories in insertion order, filtered like :meth:`search` (no ranking)."""
        where, args = self._where(user, kinds, None, None, include_history, thread)
        sql = f"SELECT {_COLUMNS} FROM memories {where} ORDER BY id LIMIT ? OFFSET ?"
        with self.store.read() as conn:
            rows = conn.execute(
                sql, [*args, _NO_LIMIT if limit is None else limit, offset]
            ).fetchall()
        return [MemoryRecord._from_row(r) for r in rows]

    def history(self, memory_id: int) -> list[MemoryRecord]:
        """The chain of versions ending at (or passing through) ``memory_id``, oldest first."""
        rec = self.get(memory_id)
        chain = [rec]
        with self.store.read() as conn:
            while True:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM memories WHERE superseded_by=?", (chain[0].id,)
                ).fetchone()
                if row is None:
                    break
                chain.insert(0, MemoryRecord._from_row(row))
        while chain[-1].superseded_by is not None:
            try:
                chain.append(self.get(chain[-1].superseded_by))
            except MemoryNotFoundError:
                break
        return chain

    def current_slot(
        self, user: str, subject: str, attribute: str, *, include_history: bool = False
    ) -> list[MemoryRecord]:
        """The user's facts about ``subject``'s ``attribute``, as the slot rule parses them.

        Args:
            subject, attribute: a slot as :func:`memory._slots.slot` returns it, e.g.
                ``("i", "residence")``, ``("my dog", "name")`` (case does not matter).
            include_history: also the superseded versions ("where did I live before?").

        Returns:
            Current facts only (normally one; several when they were imported or restored
            that way), or with ``include_history`` every version, oldest first.

        Example:
            >>> # mem.add("I live in Paris", user="ann"); mem.add("I moved to Berlin", user="ann")
            >>> # [r.text for r in mem.current_slot("ann", "i", "residence")]
            >>> #   -> ['I moved to Berlin']
            >>> # [r.text for r in mem.current_slot("ann", "i", "residence", include_history=True)]
            >>> #   -> ['I live in Paris', 'I moved to Berlin']
        """
        want = (subject.strip().lower(), attribute.strip().lower())
        with self.store.read() as conn:
            ids = [i for i, _ in self._slot_facts(conn, user, want, include_history)]
            rows = []
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += conn.execute(
                    f"SELECT {_COLUMNS} FROM memories WHERE id IN ({marks})", part
                ).fetchall()
        records = [MemoryRecord._from_row(r) for r in rows]
        records.sort(key=lambda r: (r.valid_from, r.id))
        return records

    def search(
        self,
        query: str,
        user: str,
        k: int = 5,
        *,
        kinds: Sequence[str] | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        include_history: bool = False,
        thread: str | None = None,
    ) -> list[MemoryHit]:
        """The ``k`` best memories of ``user`` for ``query``.

        Args:
            kinds: restrict to these kinds (default: all).
            since, until: restrict to memories created in ``[since, until]``.
            include_history: also return superseded facts.
            thread: restrict to one thread (default: all the user's threads).

        Example:
            >>> # [h.record.text for h in mem.search("where do I live", user="ann", k=3)]
        """
        if k <= 0:
            return []
        qvec = self.store.embedder.embed_query(query)
        w = self.settings.recency_weight
        want = k if w == 0 else max(4 * k, 32)
        rows = self._candidate_rows(qvec, user, want, kinds, since, until, include_history, thread)
        now = self.clock()
        half = self.settings.recency_half_life_days * 86400.0
        scored = []
        for row, sim in rows:
            refreshed = _dt(row[8])
            age = max(0.0, now - refreshed.timestamp()) if refreshed else 0.0
            recency = 0.5 ** (age / half)
            scored.append(((1 - w) * sim + w * recency, row[0], row, sim, recency))
        scored.sort(key=lambda t: (-t[0], t[1]))
        # Only the k returned rows become records (json, dates): at 100k memories the other
        # ~120 candidates cost 1.5 ms per search to build for nothing.
        hits = [
            MemoryHit(MemoryRecord._from_row(row), score, sim, recency)
            for score, _id, row, sim, recency in scored[:k]
        ]
        self._recalled.extend((h.record.user, _norm(h.record.text)) for h in hits)
        return hits

    def _candidates(
        self,
        qvec: np.ndarray,
        user: str,
        want: int,
        kinds: Sequence[str] | None,
        since: TimeLike | None,
        until: TimeLike | None,
        include_history: bool,
        thread: str | None,
    ) -> list[tuple[MemoryRecord, float]]:
        """At least ``want`` filtered records among the nearest vectors (fewer if none remain),
        by exact similarity from SQLite's vectors, best first."""
        rows = self._candidate_rows(qvec, user, want, kinds, since, until, include_history, thread)
        return [(MemoryRecord._from_row(r), sim) for r, sim in rows]

    def _candidate_rows(
        self,
        qvec: np.ndarray,
        user: str,
        want: int,
        kinds: Sequence[str] | None,
        since: TimeLike | None,
        until: TimeLike | None,
        include_history: bool,
        thread: str | None,
    ) -> list[tuple[Sequence[Any], float]]:
        """:meth:`_candidates` as raw rows (``_COLUMNS`` then ``vec``) and similarities."""
        where, args = self._where(user, kinds, since, until, include_history, thread, by_id=True)
        fetch = max(4 * want, 32)
        for _attempt in range(64):
            with self.store.lock:
                hits = self._space.search(qvec, fetch)
                total = len(self._space.index)
            if not hits:
                return []
            ids = [i for i, _ in hits]
            marks = ",".join("?" * len(ids))
            sql = (
                f"SELECT {_COLUMNS}, vec FROM memories {where} "
                f"{'AND' if where else 'WHERE'} id IN ({marks})"
            )
            with self.store.read() as conn:
                rows = conn.execute(sql, [*args, *ids]).fetchall()
            vecs = {r[0]: np.frombuffer(r[13], dtype=np.float32) for r in rows}
            if not self._space.verify_scores(qvec, hits, vecs):
                with self.store.lock:
                    self._space.rebuild()
                continue
            out = [(r, float(vecs[r[0]] @ qvec)) for r in rows]
            if len(out) >= want or fetch >= total:
                out.sort(key=lambda p: (-p[1], p[0][0]))
                return out
            fetch = min(total, fetch * 4)
        raise RuntimeError("memory index kept disagreeing with SQLite")  # pragma: no cover

    @staticmethod
    def _where(
        user: str | None,
        kinds: Sequence[str] | None,
        since: TimeLike | None,
        until: TimeLike | None,
        include_history: bool,
        thread: str | None,
        by_id: bool = False,
    ) -> tuple[str, list[Any]]:
        # by_id: the query also has "id IN (...)"; the unary + keeps SQLite from scanning the
        # (user, kind, created) index, which at 100k memories cost 11 ms per search.
        p = "+" if by_id else ""
        clauses, args = [], []
        if user is not None:
            clauses.append(f"{p}user=?")
            args.append(user)
        if kinds:
            clauses.append(f"{p}kind IN ({','.join('?' * len(kinds))})")
            args += list(kinds)
        if since is not None:
            clauses.append(f"{p}created>=?")
            args.append(_ts(since))
        if until is not None:
            clauses.append(f"{p}created<=?")
            args.append(_ts(until))
        if not include_history:
            clauses.append("valid_to IS NULL")
        if thread is not None:
            clauses.append("thread=?")
            args.append(thread)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    # -- forgetting ----------------------------------------------------------------------

    def forget(
        self,
        memory_id: int | None = None,
        *,
        query: str | None = None,
        user: str | None = None,
        min_similarity: float = 0.8,
    ) -> list[int]:
        """Hard-delete memories; returns the ids deleted.

        - ``forget(id)``: that memory;
        - ``forget(query=..., user=...)``: the user's memories containing ``query`` (case
          insensitive) or at least ``min_similarity`` similar to it;
        - ``forget(user=...)``: everything of that user.

        The rows, their vectors (index file rewritten), their cached embeddings go; then
        :meth:`~memory.store.Store.erase` (SQLite: WAL checkpointed and truncated, the freed
        pages zeroed by ``secure_delete``; PostgreSQL: ``VACUUM FULL`` of the tables).
        """
        if memory_id is not None:
            ids = [self.get(memory_id).id]
        elif query is not None:
            if user is None:
                raise ConfigError("forget(query=...) needs user=... (memories are per user)")
            ids = self._matching(query, user, min_similarity)
        elif user is not None:
            with self.store.read() as conn:
                ids = [r[0] for r in conn.execute("SELECT id FROM memories WHERE user=?", (user,))]
        else:
            raise ConfigError("forget() needs an id, a query and a user, or a user")
        if ids:
            self._delete(ids)
        return ids

    def forget_ids(self, ids: Sequence[int]) -> list[int]:
        """Hard-delete the memories ``ids`` at once, as :meth:`forget` does one.

        One transaction and one :meth:`~memory.store.Store.erase` for all of them (on
        PostgreSQL that is one ``VACUUM FULL`` rather than one per id). Ids that do not exist
        (never stored, already forgotten) are ignored.

        Returns:
            The ids deleted, in the order given, each once.

        Example:
            >>> # mem.forget_ids([3, 5, 999])  -> [3, 5]
        """
        wanted = list(dict.fromkeys(int(i) for i in ids))
        found: set[int] = set()
        with self.store.read() as conn:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                found |= {
                    int(r[0])
                    for r in conn.execute(f"SELECT id FROM memories WHERE id IN ({marks})", part)
                }
        gone = [i for i in wanted if i in found]
        if gone:
            self._delete(gone)
        return gone

    def undo(self, memory_id: int) -> list[int]:
        """Take back a fact stored by mistake: delete it as :meth:`forget` does and make the
        facts it superseded current again, in the same transaction.

        :meth:`forget` leaves a superseded fact superseded (the user asked to forget the new
        one, not to bring back the old); an extraction the user undoes in the inbox should
        never have replaced anything, so the fact it replaced comes back. If a newer fact has
        since replaced the undone one, what it had replaced joins that newer fact's history
        instead (it does not come back beside it).

        Returns:
            The ids made current again.

        Raises:
            MemoryNotFoundError: no memory ``memory_id``.

        Example:
            >>> # mem.add("I live in Paris", user="ann"); new = mem.add("I moved to Rome", ...)
            >>> # mem.undo(new.record.id)  -> [id of "I live in Paris"], current again
        """
        self.get(memory_id)
        return self._delete([memory_id], restore=True)

    def _matching(self, query: str, user: str, min_similarity: float) -> list[int]:
        needle = query.lower()
        with self.store.read() as conn:
            ids = {
                r[0]
                for r in conn.execute(
                    "SELECT id FROM memories WHERE user=? AND instr(lower(text), ?) > 0",
                    (user, needle),
                )
            }
        qvec = self.store.embedder.embed_query(query)
        for rec, sim in self._candidates(qvec, user, 32, None, None, None, True, None):
            if sim >= min_similarity:
                ids.add(rec.id)
        return sorted(ids)

    def _delete(self, ids: Sequence[int], *, restore: bool = False) -> list[int]:
        """Hard-delete ``ids``; with ``restore``, what they superseded becomes current again
        (or, for an id itself superseded, is linked to its successor). Returns the ids restored."""
        restored: list[int] = []
        with self.store.write() as conn:
            texts: list[str] = []
            for start in range(0, len(ids), 500):
                part = list(ids[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = conn.execute(
                    f"SELECT text, id, superseded_by FROM memories WHERE id IN ({marks})", part
                ).fetchall()
                texts += [r[0] for r in rows]
                conn.execute(f"DELETE FROM memories WHERE id IN ({marks})", part)
                if restore:
                    # A fact undone after a newer one replaced it: what it had replaced is
                    # history of that newer fact, not current beside it.
                    for _, gone, heir in rows:
                        if heir is not None and heir not in {int(i) for i in part}:
                            conn.execute(
                                "UPDATE memories SET superseded_by=? WHERE superseded_by=?",
                                (heir, gone),
                            )
                    restored += [
                        int(r[0])
                        for r in conn.execute(
                            f"SELECT id FROM memories WHERE superseded_by IN ({marks}) ORDER BY id",
                            part,
                        )
                    ]
                conn.execute(
                    f"UPDATE memories SET superseded_by=NULL"
                    f"{', valid_to=NULL' if restore else ''} WHERE superseded_by IN ({marks})",
                    part,
                )
            self.store.log_changes(conn, "memories", ids)
            still_used = {
                t
                for t in texts
                if conn.execute(
                    "SELECT 1 FROM memories WHERE text=? "
                    "UNION ALL SELECT 1 FROM chunks WHERE text=? LIMIT 1",
                    (t, t),
                ).fetchone()
            }
            self.store.cache.drop([t for t in set(texts) if t not in still_used])
        gone = {_norm(t) for t in texts}
        self._recalled = deque((r for r in self._recalled if r[1] not in gone), maxlen=512)
        queries = getattr(self.store.embedder, "_queries", None)
        if queries is not None:
            queries.clear()
        with self.store.lock:
            self._space.ensure_current()
            self._space.save()
        self.store.erase(("memories", "embedding_cache"))
        return restored

    # -- export / import -----------------------------------------------------------------

    def export(self, dest: Path | str | IO[str], user: str | None = None) -> int:
        """Write memories (history included) as JSON lines; returns how many."""
        records = self.list(user, include_history=True)
        if isinstance(dest, (str, Path)):
            with open(dest, "w", encoding="utf-8") as fh:
                return self.export(fh, user)
        for rec in records:
            dest.write(json.dumps(rec.to_json(), ensure_ascii=False) + "\n")
        return len(records)

    def import_(self, src: Path | str | IO[str]) -> int:
        """Read JSON lines written by :meth:`export`; returns how many records were added.

        Ids are reassigned (``superseded_by`` links are remapped); a record already present
        (same user, kind, text and creation time) is skipped, so importing twice is harmless.
        The write filter does not apply: these are the user's own exported records.

        Raises:
            ConfigError: a line is not a valid record (nothing from the file is kept).
        """
        if isinstance(src, (str, Path)):
            with open(src, encoding="utf-8") as fh:
                return self.import_(fh)
        items = []
        for n, line in enumerate(src, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                items.append((d, _ts(datetime.fromisoformat(d["created"]))))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"import line {n}: not a memory record ({exc})") from exc
        vecs = self.store.cache.embed([d["text"] for d, _ in items]) if items else None
        mapping: dict[int, int] = {}
        links: list[tuple[int, Any]] = []
        added = 0
        with self.store.write() as conn:
            for (d, created), vec in zip(items, vecs if vecs is not None else [], strict=True):
                dup = conn.execute(
                    "SELECT id FROM memories WHERE user=? AND kind=? AND text=? "
                    "AND abs(created-?)<1e-3",
                    (d["user"], d["kind"], d["text"], created),
                ).fetchone()
                if dup:
                    mapping[int(d["id"])] = dup[0]
                    continue

                def iso(key: str, d: dict[str, Any] = d) -> float | None:
                    return _ts(datetime.fromisoformat(d[key])) if d.get(key) else None

                cur = conn.execute(
                    "INSERT INTO memories (user, thread, role, kind, text, source, created, "
                    "refreshed, valid_from, valid_to, superseded_by, metadata, vec) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        d["user"],
                        d.get("thread"),
                        d.get("role", "user"),
                        d["kind"],
                        d["text"],
                        d.get("source", "import"),
                        created,
                        iso("refreshed") or created,
                        iso("valid_from") or created,
                        iso("valid_to"),
                        None,
                        json.dumps(d.get("metadata") or {}),
                        vec.astype(np.float32).tobytes(),
                    ),
                )
                new_id = int(cur.lastrowid)  # type: ignore[arg-type]
                mapping[int(d["id"])] = new_id
                if d.get("superseded_by") is not None:
                    links.append((new_id, d["superseded_by"]))
                self.store.log_changes(conn, "memories", [new_id])
                added += 1
            for new_id, ref in links:
                conn.execute(
                    "UPDATE memories SET superseded_by=? WHERE id=?",
                    (mapping.get(int(ref)), new_id),
                )
        return added

    import_jsonl = import_
    export_jsonl = export

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Save the index and close the store."""
        self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
