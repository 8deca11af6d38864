"""Document ingest and hybrid search on the hash embedder: formats, citations, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import Documents, Store
from tests.memory.conftest import make_settings, write_pdf


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "cats.txt").write_text("Cats purr when they are content.\n\nThey sleep a lot.")
    (root / "sub" / "dogs.md").write_text("# Dogs\n\nDogs bark at strangers and love walks.")
    (root / "birds.html").write_text(
        "<html><head><style>p{color:red}</style><script>var hidden = 1;</script></head>"
        "<body><h1>Birds</h1><p>Parrots can imitate human speech.</p></body></html>"
    )
    write_pdf(root / "fish.pdf", ["Salmon swim upstream to spawn.", "Sharks never stop moving."])
    (root / ".hidden.txt").write_text("never indexed")
    (root / "notes.bin").write_bytes(b"\x00\x01")
    return root


def test_ingest_folder_all_formats_and_cite(docs: Documents, corpus: Path) -> None:
    report = docs.ingest([corpus], progress=False)
    assert report.errors == []
    assert len(report.added) == 4 and report.chunks >= 5
    by_name = {Path(d["path"]).name: d for d in docs.list()}
    assert set(by_name) == {"cats.txt", "dogs.md", "birds.html", "fish.pdf"}
    assert by_name["fish.pdf"]["pages"] == 2

    hit = docs.search("sharks moving", k=1)[0]
    assert hit.citation.path.endswith("fish.pdf") and hit.citation.page == 2
    assert hit.citation.quote == "Sharks never stop moving."
    html_hit = docs.search("parrots imitate speech", k=1)[0].citation
    assert html_hit.quote == "Birds\n\nParrots can imitate human speech." and html_hit.page is None
    assert "hidden" not in " ".join(h.citation.quote for h in docs.search("var hidden", k=10))
    txt_hit = docs.search("cats purr", k=1)[0].citation
    text = (corpus / "cats.txt").read_text()
    assert text[txt_hit.start : txt_hit.end] == txt_hit.quote


def test_modes_and_fusion_ranks(docs: Documents, corpus: Path) -> None:
    docs.ingest([corpus], progress=False)
    for mode in ("bm25", "dense", "hybrid"):
        hits = docs.search("dogs bark strangers", k=2, mode=mode)  # type: ignore[arg-type]
        assert hits[0].citation.path.endswith("dogs.md"), mode
    hybrid = docs.search("dogs bark strangers", k=1)[0]
    assert hybrid.bm25_rank == 1 and hybrid.dense_rank == 1


def test_incremental_skip_replace_drop(docs: Documents, corpus: Path) -> None:
    docs.ingest([corpus], progress=False)
    again = docs.ingest([corpus], progress=False)
    assert again.added == [] and len(again.unchanged) == 4 and again.chunks == 0
    (corpus / "cats.txt").write_text("Cats hunt mice at night.")
    (corpus / "sub" / "dogs.md").unlink()
    third = docs.ingest([corpus], progress=False)
    assert [Path(p).name for p in third.updated] == ["cats.txt"]
    assert [Path(p).name for p in third.removed] == ["dogs.md"]
    quotes = [h.citation.quote for h in docs.search("cats purr content dogs bark", k=10)]
    assert not any("purr" in q or "bark" in q for q in quotes)
    assert any("mice" in q for q in quotes)


def test_unchanged_text_costs_no_model_time(tmp_path: Path, corpus: Path) -> None:
    s = make_settings(tmp_path / "home")
    with Documents.open(s) as docs:
        first = docs.ingest([corpus], progress=False)
        assert first.embedded == first.chunks
        docs.remove(corpus / "cats.txt")
        (corpus / "copy.txt").write_text((corpus / "sub" / "dogs.md").read_text())
        second = docs.ingest([corpus / "copy.txt"], progress=False)
        assert second.chunks >= 1 and second.embedded == 0  # same text: the cache answered


def test_remove_deletes_from_every_index(docs: Documents, corpus: Path) -> None:
    docs.ingest([corpus], progress=False)
    assert docs.remove(corpus / "fish.pdf")
    assert not docs.remove(corpus / "fish.pdf")
    for mode in ("bm25", "dense", "hybrid"):
        quotes = [h.citation.quote for h in docs.search("salmon sharks", k=20, mode=mode)]  # type: ignore[arg-type]
        assert not any("Salmon" in q or "Sharks" in q for q in quotes)
    space = docs.store.spaces["chunks"]
    with docs.store.read() as conn:
        n = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert len(space.index) == n


def test_bad_files_get_error_records_and_the_ingest_goes_on(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "binary.txt").write_bytes(b"abc\x00\x01\x02" * 10)
    (bad / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (bad / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF")
    (bad / "huge.txt").write_text("big " * 5000)
    write_pdf(bad / "plain.pdf", ["secret pages"])
    writer = PdfWriter(clone_from=str(bad / "plain.pdf"))
    writer.encrypt("pw", algorithm="RC4-128")
    with open(bad / "locked.pdf", "wb") as fh:
        writer.write(fh)
    (bad / "plain.pdf").unlink()
    (bad / "good.txt").write_text("The only good file talks about otters.")
    s = make_settings(tmp_path / "home", max_document_bytes=10_000)
    with Documents.open(s) as docs:
        report = docs.ingest([bad, tmp_path / "missing.txt"], progress=False)
        reasons = {Path(e.path).name: e.reason for e in report.errors}
        assert reasons == {
            "empty.txt": "empty",
            "binary.txt": "binary",
            "latin1.txt": "encoding",
            "corrupt.pdf": "corrupt",
            "huge.txt": "too-large",
            "locked.pdf": "encrypted",
            "missing.txt": "missing",
        }
        assert all(e.message for e in report.errors)
        assert [Path(p).name for p in report.added] == ["good.txt"]
        assert [Path(d["path"]).name for d in docs.list()] == ["good.txt"]
        with docs.store.read() as conn:
            assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1


def test_a_failure_mid_write_leaves_nothing_half_written(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Documents.open(make_settings(tmp_path / "home")) as docs:
        real = Store.log_changes

        def failing(self, conn, table, items):  # type: ignore[no-untyped-def]
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Store, "log_changes", failing)
        report = docs.ingest([corpus / "cats.txt"], progress=False)
        assert [e.reason for e in report.errors] == ["unreadable"]
        monkeypatch.setattr(Store, "log_changes", real)
        with docs.store.read() as conn:
            assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0
        assert docs.ingest([corpus / "cats.txt"], progress=False).added  # and it can be retried


def test_progress_bar_on_request(
    docs: Documents, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs.ingest([corpus], progress=True)
    assert "ingest" in capsys.readouterr().err


def test_symlink_loops_are_skipped_with_a_warning_and_good_files_ingested(
    tmp_path: Path, corpus: Path
) -> None:
    (corpus / "sub" / "up").symlink_to("..")  # a folder that contains itself
    (corpus / "self.txt").symlink_to("self.txt")  # a link to itself
    (corpus / "ping.md").symlink_to("pong.md")  # two links round a loop
    (corpus / "pong.md").symlink_to("ping.md")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "otters.txt").write_text("Otters hold hands while they sleep.")
    (corpus / "linked").symlink_to(outside)  # an ordinary linked folder is followed
    with Documents.open(make_settings(tmp_path / "home")) as docs:
        report = docs.ingest([corpus, corpus / "self.txt"], progress=False)
        names = sorted(Path(p).name for p in report.added)
        assert names == ["birds.html", "cats.txt", "dogs.md", "fish.pdf", "otters.txt"]
        skipped = {Path(s.path).name: s.reason for s in report.skipped}
        assert skipped == {
            "up": "symlink-loop",
            "self.txt": "symlink-loop",
            "ping.md": "symlink-loop",
            "pong.md": "symlink-loop",
        }
        assert all("loop" in s.message for s in report.skipped)
        # named on the command line, the loop is one error record, not an abort
        assert [(Path(e.path).name, e.reason) for e in report.errors if e.reason != "binary"] == [
            ("self.txt", "symlink-loop")
        ]


def test_a_large_file_reports_progress_per_batch_and_keeps_memory_bounded(
    tmp_path: Path,
) -> None:
    import tracemalloc

    para = "The tenant pays the rent on the first day of each month. Notice is one month."
    text = "\n\n".join(f"{n}. {para}" for n in range(12_000))  # ~1 MB, ~1,400 chunks
    big = tmp_path / "big.txt"
    big.write_text(text)
    seen: list[tuple[int, int, int]] = []
    with Documents.open(make_settings(tmp_path / "home")) as docs:
        docs.embed_batch = 100
        docs.chunk_window = 200_000  # several windows, each cut at a paragraph break
        docs.store.spaces["chunks"].ensure_current()
        tracemalloc.start()
        try:
            report = docs.ingest(
                [big],
                progress=False,
                on_progress=lambda p: seen.append((p.index, p.done, p.chunks)),
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        n = report.chunks
        assert report.added == [str(big.resolve())] and n > 1_000
        # the file starts (0 of unknown), is read (0 of n), then one report per batch of 100
        assert seen[:2] == [(1, 0, 0), (1, 0, n)]
        assert [d for _, d, _ in seen[2:]] == [*range(100, n, 100), n]
        # every chunk is the text at its offsets, windows notwithstanding
        with docs.store.read() as conn:
            rows = conn.execute('SELECT start, "end", text FROM chunks ORDER BY ord').fetchall()
        assert len(rows) == n and all(text[a:b] == t for a, b, t in rows)
        assert rows[-1][1] == len(text.rstrip())
        # Before: the chunk texts, a dict of per-chunk vectors, their stack and the cache's
        # rows all at once came to 14x the file; now the text, one vector per chunk and the
        # index's own save (~5x).
        assert peak < 8 * len(text), f"peak {peak / 1e6:.1f} MB for {len(text) / 1e6:.1f} MB"
