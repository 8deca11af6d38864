"""Rebuild the document-QA files that are not hand-written: public texts and the PDF.

    .venv/bin/python bench/docqa/build_documents.py [--check]

- ``faq-*.md``: pages of the Zaragoza construction FAQ (PyPI ``zaragoza-construction-faq``,
  CC BY 4.0), English edition, one page per topic, each with its attribution line. The entries
  are copied unchanged; only the layout (a Markdown heading per question) is ours.
- ``gpl-3.0.txt``, ``apache-2.0.txt``, ``cc0-1.0.txt``: verbatim copies of Debian's
  ``/usr/share/common-licenses`` (package ``base-files``).
- ``travel-expense-policy.pdf``: a two-page PDF made with pypdf (already a dependency, the
  reader that ingest uses) from the text in :data:`POLICY_PAGES`, set in the standard Helvetica
  font so that no font file is embedded.

The files are committed, so neither the runner nor the test needs these packages; ``--check``
says whether the committed public texts still match their sources (the PDF is not compared:
pypdf writes a fresh file identifier each time). Provenance is in ``SOURCES.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata, resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
LICENCES = Path("/usr/share/common-licenses")

FAQ_PAGES: dict[str, tuple[str, list[str]]] = {
    "faq-bathroom-renovation.md": (
        "Bathroom renovation",
        [f"badrum-{n:03d}" for n in range(1, 21)],
    ),
    "faq-rot-deduction.md": (
        "The ROT tax deduction",
        [f"rot-{n:03d}" for n in range(1, 16)],
    ),
    "faq-hidden-defects.md": (
        "Hidden defects when buying a house",
        [f"dolda-fel-{n:03d}" for n in range(13, 26)],
    ),
    "faq-insurance-and-disputes.md": (
        "Insurance, liability and disputes",
        [f"forsakring-ansvar-{n:03d}" for n in range(1, 8)]
        + [f"dispute-{n:03d}" for n in range(1, 10)],
    ),
}
"""Page file -> (title, FAQ entry ids in page order)."""

LICENCE_COPIES = {"gpl-3.0.txt": "GPL-3", "apache-2.0.txt": "Apache-2.0", "cc0-1.0.txt": "CC0-1.0"}

POLICY_PAGES = [
    [
        "HALDEN LOGISTICS",
        "Travel and Expense Policy",
        "Version 3, valid from 1 January 2025. Owner: Finance department.",
        "",
        "1. Scope",
        "This policy applies to all employees who travel on company business.",
        "Travel must be approved in advance in the travel tool before anything is booked.",
        "",
        "2. Booking travel",
        "For journeys under 500 km, employees travel by train rather than by plane.",
        "Flights are booked in economy class.",
        "Tickets are booked through the company travel agency, not privately.",
        "",
        "3. Hotels",
        "The hotel limit is 140 euros per night, breakfast included.",
        "In London, Paris and Zurich the hotel limit is 190 euros per night.",
        "Employees may stay with friends or family instead; no allowance is paid for this.",
        "",
        "4. Meals",
        "Employees receive a meal allowance of 32 euros per full travel day.",
        "On the day of departure and the day of return the allowance is 16 euros.",
        "Meals provided by a conference or a customer are deducted from the allowance.",
    ],
    [
        "5. Local transport",
        "Public transport is the default for local journeys at the destination.",
        "Taxis may be used late at night, with heavy luggage, or when no public transport runs.",
        "Employees who use their private car on business are paid 0.30 euros per kilometre.",
        "",
        "6. What is not reimbursed",
        "Alcoholic drinks are not reimbursed.",
        "Minibar items, pay-TV, fines and parking tickets are not reimbursed either.",
        "",
        "7. Claims and approval",
        "Expense claims are submitted in the expense app within 30 days of the end of the trip.",
        "A photo of each receipt must be attached to the claim.",
        "Trips costing more than 1,000 euros in total must be approved by the line manager.",
        "Trips abroad outside the European Union also need approval from the head of department.",
        "Approved claims are paid with the next monthly salary.",
        "",
        "Questions about this policy: finance@halden-logistics.example",
    ],
]
"""The PDF's pages, one string per line (blank strings: an empty line)."""


def faq_pages() -> dict[str, str]:
    """The FAQ pages' text, from the installed ``zaragoza_construction_faq`` package."""
    version = metadata.version("zaragoza-construction-faq")
    data = resources.files("zaragoza_construction_faq") / "data" / "faq-en.jsonl"
    entries = {
        e["id"]: e for e in map(json.loads, data.read_text(encoding="utf-8").splitlines()) if e
    }
    out = {}
    for name, (title, ids) in FAQ_PAGES.items():
        lines = [
            f"# {title} — frequently asked questions",
            "",
            "From the Zaragoza construction FAQ by Zaragoza AB (DOI 10.5281/zenodo.19630803), "
            f"zaragoza-construction-faq {version}, licensed under CC BY 4.0 "
            "(https://creativecommons.org/licenses/by/4.0/). Entries copied unchanged.",
        ]
        for i in ids:
            lines += ["", f"## {entries[i]['q']}", "", entries[i]["a"]]
        out[name] = "\n".join(lines) + "\n"
    return out


def licence_copies() -> dict[str, str]:
    return {
        name: (LICENCES / src).read_text(encoding="utf-8") for name, src in LICENCE_COPIES.items()
    }


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path) -> None:
    """Write :data:`POLICY_PAGES` as an A4 PDF with a text layer (Helvetica 10.5 pt)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for lines in POLICY_PAGES:
        page = writer.add_blank_page(width=595, height=842)
        ops = ["BT", "/F1 10.5 Tf", "14 TL", "56 780 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*" if line else "T*")
        ops.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    writer.add_metadata({"/Title": "Travel and Expense Policy", "/Author": "Halden Logistics"})
    with path.open("wb") as fh:
        writer.write(fh)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="compare, write nothing")
    args = p.parse_args(argv)
    texts = {**faq_pages(), **licence_copies()}
    stale = [
        n
        for n, t in texts.items()
        if not (HERE / n).is_file() or (HERE / n).read_text(encoding="utf-8") != t
    ]
    if args.check:
        for name in stale:
            print(f"{name}: differs from its source")
        return 1 if stale else 0
    for name, text in texts.items():
        (HERE / name).write_text(text, encoding="utf-8")
    write_pdf(HERE / "travel-expense-policy.pdf")
    print(f"wrote {len(texts) + 1} files in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
