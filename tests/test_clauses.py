"""Clauses follow the policy's own structure and point at their source text."""

from __future__ import annotations

from pathlib import Path

from app import clauses, documents
from app.evaluation import verbatim

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def split(name: str):
    policy, blocks = documents.load(CORPUS / name)
    return policy, clauses.split(policy, blocks)


def clause_with(found, text: str):
    return next(c for c in found if text in c.text)


def test_a_retention_record_is_one_clause():
    _, found = split("leje.md")
    clause = clause_with(found, "Records of payment and supply of goods")
    assert "Reason for preservation" in clause.text and "Retention period: 5 years" in clause.text
    assert "Records of consumer complaints" not in clause.text


def test_section_path_follows_headings():
    _, found = split("dr-esthetique.md")
    clause = clause_with(found, "Records on payment and goods supply: 5 years")
    assert clause.section == "Article 4 Period of Retention and Use of Customer Information"
    _, leje = split("leje.md")
    assert clause_with(leje, "Log records").section.endswith("Reasons for information retention under relevant statutes")


def test_lead_in_keeps_its_list():
    _, found = split("clozette.md")
    clause = clause_with(found, "for the following purposes:")
    assert "to respond to your requests and queries;" in clause.text


def test_a_lead_in_that_announces_its_list_without_a_colon_keeps_it():
    _, leje = split("leje.md")
    clause = clause_with(leje, "exceptions are made in the following cases.")
    assert "In case users agree in advance" in clause.text
    _, dr = split("dr-esthetique.md")
    clause = clause_with(dr, "the information may be provided without the user’s consent.")
    assert clause.text.endswith("When it is necessary for the settlement of the charge as the services were provided")


def test_a_sentence_that_only_mentions_the_following_does_not_take_the_next_paragraph():
    assert not clauses._leads_in("The following year we changed nothing. We keep records for five years.")
    assert clauses._leads_in("LEJE does not provide it externally. However, exceptions are made in the following cases.")
    assert clauses._leads_in("The destruction procedure and method are as follows.")


def test_bold_run_in_headings_split_a_paragraph_and_head_their_clause():
    _, found = split("herve-leger.md")
    internal = clause_with(found, "to process your orderand provide you with customer service")
    assert internal.section.endswith("use my personal information? › Internal Use")
    assert internal.text.startswith("We use your personal information") and "Communication with You" not in internal.text
    merger = clause_with(found, "We do not normally sell, trade or rent")
    assert merger.section.endswith("give out my personal information? › Merger and/or sale of assets")
    assert "in which case your personalinformation could be disclosed" in merger.text


def test_offsets_point_at_the_clause_text_in_the_source():
    for path in documents.corpus_files(CORPUS):
        policy, found = split(path.name)
        previous_end = 0
        for clause in found:
            assert clause.start >= previous_end, "clauses overlap or go backwards"
            previous_end = clause.end
            for sentence in clause.sentences:
                words = policy.text[sentence.clean_start:sentence.clean_end]
                assert verbatim(words, policy.source_text[sentence.start:sentence.end]), (path.name, words[:60])


def test_no_clause_is_a_dump():
    for path in documents.corpus_files(CORPUS):
        for clause in split(path.name)[1]:
            assert len(clause.text) <= clauses.MAX_CHARS * 1.3
