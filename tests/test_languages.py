"""Questions in other languages: the language detected (the real bundled detector), PolicyQA's own words around the
quotes in that language over the real index, the quotes themselves unchanged."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from app import answer, crosslingual, languages, phrases, search, training
from app.cli import cli
from app.errors import PolicyQAError
from app.tokens import tokenize

DATA = Path(__file__).parent / "data"
PAYMENTS = "how long do you keep payment records?"

# Short questions the way customers type them, none of them from tests/data/languages.
ASKED = {
    "en": ["do you sell my data?", "can i delete my account", "who do i contact about privacy"],
    "ko": ["내 개인정보 팔아요?", "계정 삭제 어떻게 해요?", "쿠키 꼭 허용해야 되나요"],
    "ja": ["私のデータを売っていますか？", "アカウント削除したい", "クッキーは必須？"],
    "zh": ["你们会卖我的数据吗？", "隐私问题找谁联系", "必须接受cookie吗"],
    "es": ["cuanto tiempo guardan mis correos", "como borro mi cuenta", "tengo que aceptar las cookies?"],
    "de": ["verkauft ihr meine daten?", "wie lösche ich mein konto", "muss ich cookies akzeptieren?"],
    "fr": ["vous vendez mes données ?", "comment supprimer mon compte", "qui contacter pour la vie privée"],
    "pt": ["vocês vendem meus dados?", "como apago minha conta", "tenho que aceitar os cookies?"],
    "it": ["vendete i miei dati?", "come cancello il mio account", "devo accettare i cookie?"],
}
# "Do you sell my data?", as customers type it in each language.
SELL = {lang: asked[0] for lang, asked in ASKED.items()} | {"es": "ustedes venden mis datos?"}


@pytest.mark.parametrize("lang, question", [(lang, q) for lang, asked in ASKED.items() for q in asked])
def test_the_questions_language_is_detected(lang, question):
    assert languages.detect(question) == lang


@pytest.mark.parametrize("question", ["refund??", "controller support?", "can i finance a tv", "cookies?"])
def test_a_short_english_question_the_detector_is_unsure_of_stays_english(question):
    assert languages.detect(question) == "en"


def test_every_language_has_every_phrase_with_the_same_fields_and_its_own_words():
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert set(phrases.PHRASES) == set(languages.LANGUAGES)
    for lang, table in phrases.PHRASES.items():
        assert table.keys() == phrases.PHRASES["en"].keys(), lang
        for key, text in table.items():
            assert fields(text) == fields(phrases.PHRASES["en"][key]), (lang, key)
            assert lang == "en" or text != phrases.PHRASES["en"][key], (lang, key)


@pytest.mark.parametrize("lang", languages.LANGUAGES)
def test_an_answer_is_introduced_in_the_language_asked_for_and_quotes_the_policy_unchanged(engine, lang):
    english = engine.ask(PAYMENTS, policy="leje")
    asked = engine.ask(PAYMENTS, policy="leje", lang=lang)
    assert english.lang == "en" and asked.lang == lang and asked.to_json()["lang"] == lang
    assert asked.answered and asked.citations == english.citations
    title = english.citations[0].title
    count = len(asked.citations)
    intro = (phrases.say(lang, "says", title=title) if count == 1
             else phrases.say(lang, "says_in", title=title, count=count))
    assert asked.answer.split("\n\n")[0] == intro
    quoted = lambda text: re.findall(r"“.*?” \[\d\]", text, re.S)  # noqa: E731
    assert quoted(asked.answer) == quoted(english.answer) == [f"“{c.quote}” [{n}]" for n, c in
                                                              enumerate(asked.citations, 1)]


@pytest.mark.parametrize("lang", languages.LANGUAGES)
def test_a_decline_says_so_and_names_the_contact_in_the_language_asked_for(engine, lang):
    declined = engine.ask("how much is shipping to canada?", policy="clozette", lang=lang)
    policy = engine.index.policies["clozette"]
    said = [phrases.say(lang, "product")] if declined.declined_as == "product" else []
    said += [phrases.say(lang, "silent", title=policy.title),
             phrases.say(lang, "contact", contact=", ".join(policy.contact))]
    assert not declined.answered and declined.lang == lang
    assert declined.answer == phrases.join(lang, said)
    assert "info@clozette.co" in declined.answer
    assert answer.decline(engine.index, "?", None, lang=lang).answer == phrases.say(lang, "nowhere")


def test_the_english_wording_is_as_before(engine):
    declined = engine.ask("how much is shipping?", policy="leje")
    assert declined.answer.startswith("This looks like a question about the product or service rather than about "
                                      "privacy. The ")
    assert engine.ask(PAYMENTS, policy="leje").answer.startswith("The ")


def test_a_korean_question_is_answered_in_korean_from_the_english_clause(engine):
    asked = engine.ask("내 개인정보를 다른 회사에 판매하나요?", policy="laneige")  # "do you sell my data to other companies?"
    title = engine.index.policies["laneige"].title
    assert asked.lang == "ko" and asked.answered and asked.answer.startswith(f"{title}에는")
    assert any("We do not sell, or rent your email address" in c.quote for c in asked.citations)


def test_a_question_in_another_language_lands_near_the_same_question_in_english(engine):
    english = search.query_vector(engine.embedder, "do you sell my data?")
    others = search.query_vector(engine.embedder, "how do i delete my account?")
    for lang, asked in SELL.items():
        vector = search.query_vector(engine.embedder, asked)
        assert (vector @ english.T).item() > (vector @ others.T).item() + 0.1, lang


def test_most_languages_find_the_clause_that_answers(engine):
    found = [lang for lang, asked in SELL.items()
             if any("do not sell" in c.quote for c in engine.ask(asked, policy="laneige").citations)]
    assert "en" in found and len(found) >= 6, found  # with no map, English alone


def test_the_map_is_fitted_on_english_texts_and_translated_questions_and_read_only_by_an_embedder_of_its_size(model):
    texts = [q for asked in ASKED.values() for q in asked][:3] + [
        "We keep payment records for five years.", "You can delete your account in the settings.",
        "We use cookies to remember your preferences.", "Contact our privacy team at privacy@example.com.",
        "We never sell your personal information.", "Children under 13 may not use the service."] * 2
    fitted, cosine = crosslingual.fit(texts, [], model)
    assert fitted.weights.shape == (512, model.dims) and 0.5 < cosine["english"] <= 1.0 and set(cosine) == {"english"}
    translated = training.translated_questions()[::8]  # every language, every policy
    fitted, cosine = crosslingual.fit(texts + [t.english for t in translated], translated, model)
    assert fitted.weights.shape == (512, model.dims) and 0.5 < cosine["translated"] <= 1.0
    assert crosslingual.model(model.dims) is not None and crosslingual.model(model.dims + 1) is None


def test_the_map_stretches_its_output_back_from_the_centre_it_pulls_it_to():
    """A least-squares map pulls its output toward the centre of the embedder's vectors, where a question sits near
    every clause and reads as no kind of question; the shipped map stretches it back by its fitted spread."""
    fitted = crosslingual.shipped()
    source = crosslingual.encode(list(SELL.values()))
    pulled = source @ fitted.weights
    pulled /= np.linalg.norm(pulled, axis=1, keepdims=True)
    stretched = fitted.apply(source)
    assert fitted.spread > 1.0
    assert (np.linalg.norm(stretched - fitted.centre, axis=1) > np.linalg.norm(pulled - fitted.centre, axis=1)).all()


def test_a_question_in_another_language_is_matched_by_all_its_words_not_only_its_latin_ones():
    clause = "We keep IP addresses for 30 days."
    korean, english = search.question_terms("IP 주소는 며칠 보관하나요?"), search.question_terms("how long do you keep IP addresses")
    assert search.coverage(korean, clause) < 0.3 < 0.6 < search.coverage(english, clause)
    assert set(english) == set(tokenize("how long do you keep IP addresses"))


def test_the_translated_customer_questions_are_each_in_their_language_about_a_training_policy():
    """app/data/policyqa_customers_translated.jsonl: every customer question over PolicyQA's policies in each of the
    eight other languages (training data: none of the policies any evaluation reports on)."""
    translated = training.translated_questions()
    english = {t.english for t in translated}
    by_lang = {lang: [t for t in translated if t.lang == lang] for lang in languages.LANGUAGES[1:]}
    assert len(translated) == 8 * 941 and all(len(rows) == 941 for rows in by_lang.values())
    for lang, rows in by_lang.items():
        detected = sum(languages.detect(t.question) == lang for t in rows)
        assert detected >= 0.9 * len(rows), (lang, detected)
        assert not english & {t.question for t in rows}
    held_out = {p.stem for p in (DATA / "unseen").glob("*.md")}
    assert not {t.policy for t in translated} & held_out


def test_train_languages_without_the_benchmark_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["train-languages", "--bench-dir", str(tmp_path)])
    assert result.exit_code == 1 and "policyqa_dev.json is missing" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("lang", ["xx", "english", "", 7])
def test_a_language_policyqa_does_not_speak_is_one_clear_error(engine, lang):
    with pytest.raises(PolicyQAError, match=r"^Unknown language .*; choose one of: en, ko, ja, zh, es, de, fr, pt, it\.$"):
        engine.ask(PAYMENTS, policy="leje", lang=lang)


def test_a_named_language_is_read_without_regard_to_case_or_spaces(engine):
    assert engine.ask(PAYMENTS, policy="leje", lang=" DE ").lang == "de"


def test_the_translated_question_sets_keep_the_english_sets_answers():
    english = [json.loads(line) for line in (DATA / "unseen" / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    for lang in languages.LANGUAGES[1:]:
        rows = [json.loads(line) for line in (DATA / "languages" / f"{lang}.jsonl").read_text(encoding="utf-8")
                .splitlines()]
        assert [{**r, "question": None, "lang": None} for r in rows] == [{**e, "question": None, "lang": None}
                                                                        for e in english]
        assert all(r["lang"] == lang and r["question"] not in {e["question"] for e in english} for r in rows)
        assert sum(languages.detect(r["question"]) == lang for r in rows) >= 0.95 * len(rows)
