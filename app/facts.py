"""Which kinds of fact a passage states: an amount of money, a number, an age, a way to reach someone, a length of
time, a date. A question that asks for one kind of fact ("how long do you keep…", "which number do I call") is
answered only by a clause that states that kind (`unstated`); questions.py says which kind a question asks for.

The recognisers read surface forms (a currency amount, "13 years of age", an e-mail address, "for 30 days", "June
2024") and err towards finding a fact: a clause wrongly taken to state one is only not penalised, while one wrongly
taken to state none would lose a right answer. How much a missing fact weighs is fitted (calibration.fit_clauses).
"""

from __future__ import annotations

import re

import numpy as np

KINDS = ("none", "price", "count", "age", "contact", "duration", "date")

_NUMBER = (r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
           r"sixteen|eighteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|several|a few)")
_UNIT = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|business days?)"
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"

STATES: dict[str, re.Pattern] = {
    "price": re.compile(r"[$€£¥₩]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?|pounds|won)\b|\b(?:fees?|charges?|"
                        r"free|costs?|prices?|payment|paid|pay)\b", re.I),
    "count": re.compile(rf"\b{_NUMBER}\b|\b(?:unlimited|no limit|up to|at most|maximum|minimum)\b", re.I),
    "age": re.compile(r"\b(?:under|over|below|above|younger than|older than|age of|aged?)\s+(?:the\s+age\s+of\s+)?"
                      r"(?:\d{1,2}|thirteen|sixteen|eighteen)\b|\b(?:\d{1,2}|thirteen|sixteen|eighteen)\s*"
                      r"(?:\+|years?\s+(?:of\s+age|old)|or\s+(?:older|over|younger|under))|\b(?:age of (?:majority|"
                      r"consent)|legal age|minors?)\b", re.I),
    "contact": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|\+?\d[\d\s().-]{7,}\d|https?://|www\.|\b(?:suite|street|avenue|"
                          r"road|p\.?\s?o\.?\s?box|floor)\b|\b[A-Z]{2}\s\d{5}\b|\b(?:call|phone|telephone|e-?mail|"
                          r"write to|mail|web ?form|contact form|toll[- ]free)\b", re.I),
    "duration": re.compile(rf"\b{_NUMBER}[\s-]*{_UNIT}\b|\b(?:as long as|no longer than|for the (?:duration|period|life)"
                           r"|until|indefinitely|permanently|retention periods?|promptly|immediately|within)\b", re.I),
    "date": re.compile(rf"\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\b\d{{1,2}}\s+{_MONTH}\.?\s+\d{{4}}|"
                       rf"\b{_MONTH}\.?,?\s+\d{{4}}|\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|"
                       r"\b(?:effective|last (?:updated|modified|revised)|as of)\b", re.I),
}


def stated(text: str) -> np.ndarray:
    """For each of KINDS, 1.0 when `text` states that kind of fact ("none" always: any clause can say yes or no)."""
    return np.array([1.0 if kind == "none" else float(bool(STATES[kind].search(text))) for kind in KINDS])


def unstated(asks: np.ndarray, text: str) -> float:
    """The probability that the question asks for a kind of fact `text` does not state, given the probabilities
    `asks` (one per KINDS) that it asks for each kind."""
    return float(asks @ (1.0 - stated(text)))
