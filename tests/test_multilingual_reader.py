"""The reader's multilingual student: the shipped one on real questions in several languages, and a fit from a real
teacher (the shipped reader) to check what a fit learns, that it is reproducible and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from app import answer, crosslingual, multilingual_reader, reader, training
from app.errors import PolicyQAError

ANSWERS = {
    "how long do you keep my payment records?": "We keep payment records for five years after your last order.",
    "do you sell my email address?": "We never sell your e-mail address to anyone.",
    "can I ask you to delete my account?": "You may ask us to delete your account and the data it holds.",
    "do you use cookies?": "We use cookies to remember your settings and to count visits.",
    "who do you share my address with?": "We share your postal address with the courier that delivers your order.",
    "how do you protect my data?": "Your data is encrypted in transit and at rest on our servers.",
    "can children use the service?": "The service is not meant for children under 14.",
    "who is your data protection officer?": "Our data protection officer can be reached at dpo@example.com.",
    "do you send marketing emails?": "We send marketing e-mails only when you opt in, and you can opt out at any time.",
    "where is my data stored?": "Your data is stored on servers in the European Union.",
    "do you collect my location?": "We collect your approximate location from your IP address.",
    "will you tell me about a data breach?": "We will notify you within 72 hours of learning of a breach that affects you.",
}


def _lessons() -> list[multilingual_reader.Lesson]:
    texts = list(ANSWERS.values())
    return [(q, text, q) for q, answer_ in ANSWERS.items() for text in texts[:6] + [answer_]]


@pytest.mark.parametrize("question", ["how long do you keep my payment records?", "결제 기록은 얼마나 오래 보관하나요?",
                                      "支払い記録はどのくらい保存しますか？", "¿Cuánto tiempo guardan mis registros de pago?",
                                      "Wie lange speichert ihr meine Zahlungsdaten?"])
def test_the_shipped_student_reads_the_answering_clause_above_another_in_any_language(question):
    answering, other = multilingual_reader.model().logits(question, [ANSWERS["how long do you keep my payment records?"],
                                                                     ANSWERS["do you use cookies?"]])
    assert answering > other + 0.5
    assert multilingual_reader.model().logits(question, []).shape == (0,)


def test_a_student_learns_its_teachers_logits_reproducibly():
    lessons = _lessons()
    first, correlation = multilingual_reader.taught(reader.model(), lessons)
    second, _ = multilingual_reader.taught(reader.model(), lessons)
    assert np.array_equal(first.weights, second.weights) and correlation > 0.3
    question = "how long do you keep my payment records?"
    texts = [ANSWERS[question], ANSWERS["do you use cookies?"]]
    assert np.argmax(first.logits(question, texts)) == np.argmax(reader.model().logits(question, texts)) == 0


def test_a_student_of_too_few_questions_is_refused(tmp_path):
    with pytest.raises(PolicyQAError, match="needs the pairs of 10 questions or more"):
        multilingual_reader.taught(reader.model(), [lesson for lesson in _lessons() if lesson[2] in list(ANSWERS)[:4]])


def test_a_saved_student_reads_as_fitted(tmp_path, monkeypatch):
    student, _ = multilingual_reader.taught(reader.model(), _lessons())
    monkeypatch.setattr(multilingual_reader, "shipped_path", lambda: tmp_path / "student.npz")
    multilingual_reader.save(student, tmp_path / "student.npz")
    try:
        texts = list(ANSWERS.values())[:3]
        assert np.allclose(multilingual_reader.shipped().logits("do you sell my email?", texts),
                           student.logits("do you sell my email?", texts), atol=1e-4)
    finally:
        monkeypatch.undo()
        multilingual_reader.shipped.cache_clear()


def test_the_student_learns_each_pair_in_english_and_as_customers_ask_it_in_other_languages(engine):
    english = "does laneige sell my email address?"
    searched = answer.read_question(engine.index, engine.embedder, english, "laneige")[3]
    pairs = [(searched, "We never sell your e-mail address.", True), (searched, "We use cookies.", False)]
    translated = [crosslingual.Translated("laneige", english, "laneige에서 제 이메일 팔아요?", "ko"),
                  crosslingual.Translated("laneige", "something else entirely", "¿algo más?", "es")]
    lessons = training.student_lessons(engine.index, pairs, translated)
    korean = "에서 제 이메일 팔아요?"  # the company's name out, as a question is searched
    assert lessons == [(searched, pairs[0][1], searched), (korean, pairs[0][1], searched),
                       (searched, pairs[1][1], searched), (korean, pairs[1][1], searched)]
