"""The names a question uses (names.py) and the clauses that do not mention them, on the real corpus."""

from __future__ import annotations

import pytest

from app import answer, names


@pytest.mark.parametrize("question, named", [
    ("does github use hotjar cookies to record my session", ("github", "hotjar")),
    ("how long does the google analytics _ga cookie last", ("_ga",)),
    ("lost my phone with my 2fa codes", ("2fa",)),
    ("does it set cookies on username.github.io", ("username.github.io",)),
    ("can i delete my acount and all my emails?", ()),  # a slip for "account", not a name
    ("do you keep my data for 30 days or 6 months", ()),  # numbers are not names
    ("do you sell my personal information to advertisers", ()),
    ("¿venden mis datos personales a otras empresas?", ()),  # not English: its words are not names
])
def test_the_names_a_question_uses(question, named):
    assert names.named(question) == named


def test_the_share_of_names_a_clause_does_not_mention():
    assert names.unnamed(("hotjar", "_ga"), "We use Hotjar to see how visitors use the site.") == 0.5
    assert names.unnamed(("_ga",), "The _ga cookie lasts two years.") == 0.0
    assert names.unnamed(("_ga",), "The cookie ga_session lasts two years.") == 1.0
    assert names.unnamed((), "Anything at all.") == 0.0


def test_every_clause_of_a_policy_that_never_names_the_vendor_reads_unnamed(engine):
    vendor = answer.assess(engine.index, engine.embedder, "do you share my data with hotjar?", policy="laneige")
    assert vendor.hit_signals["unnamed"] == [1.0] * len(vendor.hits)
    plain = answer.assess(engine.index, engine.embedder, "do you share my data with advertisers?", policy="laneige")
    assert plain.hit_signals["unnamed"] == [0.0] * len(plain.hits)
