"""Text that remembers, for every character, where in the source file it came from.

Cleaning deletes markup and fixes mojibake; quotes must still point back at the
source file, so every cleaning step works on MappedText instead of str.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_SPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")


@dataclass(frozen=True)
class MappedText:
    text: str
    offsets: tuple[int, ...]  # offsets[i] is the source offset of text[i]

    @classmethod
    def of(cls, source: str, start: int = 0, end: int | None = None) -> "MappedText":
        end = len(source) if end is None else end
        return cls(source[start:end], tuple(range(start, end)))

    @classmethod
    def join(cls, parts: list["MappedText"], sep: str = " ") -> "MappedText":
        text, offsets = [], []
        for i, part in enumerate(p for p in parts if p.text):
            if i and sep:
                text.append(sep)
                offsets.extend([offsets[-1]] * len(sep))
            text.append(part.text)
            offsets.extend(part.offsets)
        return cls("".join(text), tuple(offsets))

    def __len__(self) -> int:
        return len(self.text)

    def __getitem__(self, item: slice) -> "MappedText":
        return MappedText(self.text[item], self.offsets[item])

    def source_span(self, start: int = 0, end: int | None = None) -> tuple[int, int]:
        """The source offsets [start, end) covering text[start:end]."""
        end = len(self.text) if end is None else end
        if end <= start:
            at = self.offsets[start] if start < len(self.offsets) else (self.offsets[-1] + 1 if self.offsets else 0)
            return at, at
        return self.offsets[start], self.offsets[end - 1] + 1

    def sub(self, pattern: re.Pattern, keep: int | str | None = None, repl: str | None = None) -> "MappedText":
        """Replace each match by its group `keep` (offsets kept), by `repl`, or by nothing."""
        text, offsets, last = [], [], 0
        for m in pattern.finditer(self.text):
            text.append(self.text[last:m.start()])
            offsets.extend(self.offsets[last:m.start()])
            if keep is not None and m.group(keep) is not None:
                g0, g1 = m.span(keep)
                text.append(self.text[g0:g1])
                offsets.extend(self.offsets[g0:g1])
            elif repl:
                text.append(repl)
                offsets.extend([self.offsets[m.start()]] * len(repl))
            last = m.end()
        text.append(self.text[last:])
        offsets.extend(self.offsets[last:])
        return MappedText("".join(text), tuple(offsets))

    def squeeze(self) -> "MappedText":
        """Runs of white space (and zero-width characters) become one space; ends trimmed."""
        return self.sub(_SPACE, repl=" ").strip()

    def strip(self) -> "MappedText":
        start, end = 0, len(self.text)
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        return self[start:end]

    def fixed(self, fix) -> "MappedText":
        """Apply a str -> str fix (e.g. ftfy), aligning the new characters to the old offsets."""
        new = fix(self.text)
        if new == self.text:
            return self
        offsets: list[int] = []
        matcher = difflib.SequenceMatcher(None, self.text, new, autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op == "equal":
                offsets.extend(self.offsets[a0:a1])
            elif b1 > b0:
                anchor = self.offsets[min(a0, len(self.offsets) - 1)] if self.offsets else 0
                offsets.extend([anchor] * (b1 - b0))
        return MappedText(new, tuple(offsets))
