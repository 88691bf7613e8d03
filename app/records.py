"""Plain typed records passed between the modules: Policy, Clause, Citation, Answer."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Sentence:
    """A sentence of a clause: its span in the clean text and in the source file."""

    clean_start: int
    clean_end: int
    start: int
    end: int


@dataclass(frozen=True)
class Gap:
    """Where a clause's clean text skips source text a reader sees (a dropped table header, a table of contents):
    the words before it end at clean_end (end in the source), the words after it start at clean_start (start)."""

    clean_end: int
    end: int
    clean_start: int
    start: int


@dataclass(frozen=True)
class Clause:
    """One unit of a policy's own structure, with where it stands."""

    policy: str
    number: int  # position within its policy, from 0
    section: str  # heading path, e.g. "Article 4 Period of Retention and Use of Customer Information"
    text: str  # clean text, the policy's own words
    clean_start: int
    clean_end: int
    start: int  # character offsets into the source file
    end: int
    sentences: tuple[Sentence, ...]
    topic: str = "other"
    version: str | None = None  # the policy version it belongs to (the date it came into force), when dated
    gaps: tuple[Gap, ...] = ()  # in order; a quote across one shows … there (quotes.py)
    labels: tuple[str, ...] = ()  # a table row's column names, one for each line (cell) of its text

    @property
    def document(self) -> str:
        """The key of its policy version in the index: 'leje@2021-06-01', or 'leje' when undated."""
        return f"{self.policy}@{self.version}" if self.version else self.policy

    @property
    def key(self) -> str:
        return f"{self.document}#{self.number}"

    def sentence_texts(self) -> list[str]:
        return [self.text[s.clean_start - self.clean_start:s.clean_end - self.clean_start] for s in self.sentences]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Clause":
        sentences = tuple(Sentence(**s) for s in data.pop("sentences"))
        gaps = tuple(Gap(**g) for g in data.pop("gaps"))
        return cls(sentences=sentences, gaps=gaps, **{**data, "labels": tuple(data.pop("labels"))})


@dataclass
class Policy:
    """A loaded policy: its source text, the cleaned text and what it says of itself."""

    id: str
    title: str
    company: str
    source_url: str | None
    archive_url: str | None
    archived: str | None  # ISO date the page was archived, when stated
    contact: list[str] = field(default_factory=list)  # e-mails, phone numbers, officer
    checksum: str = ""
    text: str = ""  # the clean text shown to readers
    offsets: list[int] = field(default_factory=list)  # clean char i came from source char offsets[i]
    source_text: str = ""
    version: str | None = None  # the date this version came into force (file name or stated date), when known
    pages: list[int] = field(default_factory=list)  # a PDF's: where each page starts in the source text
    lang: str = "en"  # the language it is written in (ISO 639-1, languages.LANGUAGES)

    @property
    def key(self) -> str:
        """This version's key in the index: 'leje@2021-06-01', or 'leje' when undated."""
        return f"{self.id}@{self.version}" if self.version else self.id

    def meta(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "company": self.company,
            "source_url": self.source_url,
            "archive_url": self.archive_url,
            "archived": self.archived,
            "contact": self.contact,
            "checksum": self.checksum,
            "version": self.version,
            "pages": self.pages,
            "lang": self.lang,
        }

    def page(self, offset: int) -> int | None:
        """The page (from 1) of a PDF that holds source offset `offset`; None for a file without pages."""
        return bisect_right(self.pages, offset) if self.pages else None


@dataclass(frozen=True)
class Citation:
    policy: str
    title: str
    section: str
    quote: str  # the pieces' words joined by " … " (quotes.MARK)
    start: int  # source offsets of the whole quote, gaps included
    end: int
    pieces: tuple[tuple[int, int], ...]  # source offsets [start, end) of each piece of the quote, in order
    score: float
    clause: int  # the clause's number within its policy version
    url: str | None = None
    version: str | None = None  # the policy version quoted (offsets are into its file); None when undated
    probability: float | None = None  # the fitted probability that the clause answers; None: not retrieval's answer
    page: int | None = None  # the page of a PDF the quote starts on; None for other files

    def to_json(self) -> dict:
        return {**asdict(self), "pieces": [list(piece) for piece in self.pieces]}

    @property
    def on_page(self) -> str:
        """"page 3" for a quote from a PDF, else empty."""
        return f"page {self.page}" if self.page else ""

    @property
    def likelihood(self) -> str:
        """The probability that the clause answers as people read it ("92%", "<1%"); empty when there is none."""
        if self.probability is None:
            return ""
        return f"{self.probability:.0%}" if self.probability >= 0.005 else "<1%"


@dataclass
class Answer:
    question: str
    answered: bool
    answer: str
    citations: list[Citation]
    policy: str | None = None  # the policy the question was scoped to, if any
    id: object = None
    as_of: str | None = None  # the date whose versions answered; None: the latest
    confidence: float | None = None  # the first citation's probability (or, declined, the best clause's); None: not retrieval's answer
    declined_as: str | None = None  # why it was declined: "product" (a product or support question) or "not covered"
    lang: str = "en"  # the language PolicyQA's own words are in (ISO 639-1): the question's, unless the caller chose

    def to_json(self) -> dict:
        data = {"question": self.question, "answered": self.answered, "answer": self.answer, "policy": self.policy,
                "as_of": self.as_of, "confidence": self.confidence, "declined_as": self.declined_as, "lang": self.lang,
                "citations": [c.to_json() for c in self.citations]}
        if self.id is not None:
            data = {"id": self.id, **data}
        return data
