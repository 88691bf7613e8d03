"""PDFs in the corpus: seed policies printed by headless Chromium, read back as their Markdown reads, cited by page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import webpages
from app import answer, documents, store
from app.errors import PolicyQAError
from app.evaluation import verbatim

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SEEDS = ("laneige", "herve-leger", "leje")


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> Path:
    """A corpus of seed policies as PDF prints of their web pages, every other one with the printer's page headers
    and footers (date, title, address, page number)."""
    folder = tmp_path_factory.mktemp("printed")
    for n, pid in enumerate(SEEDS):
        page = folder.parent / f"{pid}.html"
        page.write_text(webpages.page((CORPUS / f"{pid}.md").read_text(), webpages.SITES[n % 3], pid), encoding="utf-8")
        webpages.print_pdf(page, folder / f"{pid}.pdf", headers=n % 2 == 0)
    return folder


@pytest.mark.parametrize("pid", SEEDS)
def test_a_printed_policy_reads_as_its_markdown_without_the_printers_headers(printed, pid):
    policy, blocks = documents.load(printed / f"{pid}.pdf")
    found = webpages.words(policy.text)
    assert [s for s in webpages.policy_sentences(CORPUS / f"{pid}.md") if webpages.words(s) not in found] == []
    for running in ("file:///", f"{pid}.html", "| Acme"):
        assert running not in policy.text
    assert not re.search(r"(?m)^\d+/\d+$", policy.text)  # "2/3": a page number
    # the headings of the page it was printed from, in order (a short line alone, which Markdown reads as a heading,
    # is a paragraph on the page, and an archive banner aside)
    headings = iter(b.text.text for b in blocks if b.kind == "heading")
    assert all(h in headings for h in (b.text.text for b in documents.load(printed.parent / f"{pid}.html")[1]
                                       if b.kind == "heading"))
    assert len(policy.pages) == policy.source_text.count("\f") >= 1 and policy.pages[0] == 0
    for block in blocks:  # every block is the PDF's own words at its offsets
        start, end = block.text.source_span()
        assert verbatim(block.text.text, policy.source_text[start:end].replace("\n", " ")), block.text.text[:60]


def test_a_citation_from_a_pdf_names_the_page_its_quote_is_on(printed, model, tmp_path):
    store.build(printed, tmp_path / "index", model)
    index = store.load(tmp_path / "index")
    result = answer.ask(index, model, "how long do you keep records of my payments?", policy="leje")
    citation = result.citations[0]
    policy = documents.load(printed / "leje.pdf")[0]
    assert citation.page is not None and citation.page == policy.page(citation.start) and citation.to_json()["page"]
    first = policy.pages[citation.page - 1]
    last = policy.pages[citation.page] if citation.page < len(policy.pages) else len(policy.source_text)
    assert first <= citation.start < last
    assert webpages.words(citation.quote)[:40] in webpages.words(policy.source_text[first:last])


def test_a_word_broken_by_a_hyphen_at_a_lines_end_is_joined_again(tmp_path):
    """A typeset PDF breaks words with a hyphen; the reader joins them ("infor-mation" is "information"), but keeps
    a hyphen that belongs to the word ("third-party")."""
    page = tmp_path / "acme.html"
    page.write_text("<html><body style='font-family:sans-serif'><h1>Acme Privacy Policy</h1><p>We keep the infor-<br>"
                    "mation you give us, and the data of third-<br>party services you connect, for as long as your "
                    "account stays open and for one year after you close it.</p></body></html>", encoding="utf-8")
    webpages.print_pdf(page, tmp_path / "corpus.pdf")
    text = documents.load(tmp_path / "corpus.pdf")[0].text
    assert "We keep the information you give us, and the data of third-party services you connect" in text


def test_a_pdf_that_cannot_be_read_is_one_clear_error_naming_it(tmp_path, model):
    from pypdf import PdfWriter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer garbage")
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.write(corpus / "blank.pdf")
    writer.encrypt("secret")
    writer.write(corpus / "locked.pdf")
    (corpus / "acme.md").write_text("# Acme Privacy Policy\n\nWe collect your email address to send you receipts.\n")
    expected = {"broken.pdf": "broken.pdf is not a readable PDF (it is damaged or not a PDF)",
                "locked.pdf": "locked.pdf is not a readable PDF (it is encrypted)",
                "blank.pdf": "blank.pdf has no text layer"}
    for name, message in expected.items():
        with pytest.raises(PolicyQAError, match=re.escape(message)) as raised:
            documents.load(corpus / name)
        assert "\n" not in str(raised.value)
    report = store.build(corpus, tmp_path / "index", model)
    assert set(report.skipped) == set(expected) and report.policies == 1


def test_a_table_over_pages_is_read_row_by_row_under_its_header(tmp_path):
    """A printed table runs over pages: the printer repeats its header row atop each page and cuts a long row in
    two. Each row is one block, its cells labelled by the header, which is read once; a cut row is one row."""
    rows = "".join(f"<tr><td>Acme</td><td>cookie_{n}</td><td>{'Remembers a setting of yours between visits. ' * (1 + 5 * (n % 7 == 3))}"
                   f"</td><td>{n} days</td></tr>" for n in range(40))
    page = tmp_path / "cookies.html"
    page.write_text(webpages.page("# Acme Cookies\n\nWe set the cookies in the table below, each for the time it says."
                                  "\n\n## Cookies we set\n\n", "landmarks").replace(
        "</article>", f"<table><thead><tr><th>Provider</th><th>Cookie</th><th>Purpose</th><th>Expires</th></tr></thead>"
                      f"{rows}</table></article>"), encoding="utf-8")
    webpages.print_pdf(page, tmp_path / "cookies.pdf", headers=True)
    policy, blocks = documents.load(tmp_path / "cookies.pdf")
    read = [b for b in blocks if b.kind == "row"]
    assert len(policy.pages) > 1 and len(read) == 40
    assert {b.labels for b in read} == {("Provider", "Cookie", "Purpose", "Expires")}
    assert [b.text.text.split("\n")[1] for b in read] == [f"cookie_{n}" for n in range(40)]
    assert all(b.text.text.endswith(f"\n{n} days") for n, b in enumerate(read))
    assert "Provider" not in policy.text
