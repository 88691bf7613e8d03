"""Which version of a policy answers: the latest by default, or the one in force on a date.

A corpus file `ID@YYYY-MM-DD.EXT` is the version of policy ID in force from that date; a plain `ID.EXT` is its
single version, dated by the effective or archive date it states, if any (documents.py reads both). An
undated single version is in force at any date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .documents import parse_date
from .errors import PolicyQAError
from .records import Policy
from .store import Index


def of(index: Index, policy: str) -> list[Policy]:
    """The versions of `policy`, oldest first; a one-line error for a policy the index does not hold."""
    if policy not in index.versions:
        raise PolicyQAError(f"Unknown policy {policy!r}; choose one of: {', '.join(sorted(index.versions))}.")
    return index.versions[policy]


def dates(index: Index, policy: str) -> list[str]:
    return [v.version for v in of(index, policy) if v.version]


def named(index: Index, policy: str, version: str) -> Policy:
    """The version of `policy` dated exactly `version`."""
    version = parse_date(version, "The version")
    found = next((v for v in of(index, policy) if v.version == version), None)
    if found is None:
        known = ", ".join(dates(index, policy)) or "one undated version"
        raise PolicyQAError(f"{policy} has no version {version}; its versions are: {known}.")
    return found


def in_force(index: Index, policy: str, as_of: str) -> Policy:
    """The version of `policy` in force on `as_of` (YYYY-MM-DD): the latest dated on or before it."""
    as_of = parse_date(as_of, "The as-of date")
    versions = of(index, policy)
    earlier = [v for v in versions if v.version is None or v.version <= as_of]
    if not earlier:
        raise PolicyQAError(f"no version of {policy} was in force on {as_of}; the first is {versions[0].version}.")
    return earlier[-1]


def scope(index: Index, policy: str | None, as_of: str | None) -> list[str]:
    """The documents to answer from: the policy's version in force (its latest without a date), or one version
    of every policy; never two versions of one policy."""
    if as_of is None:
        return [index.policies[policy].key] if policy else [p.key for p in index.policies.values()]
    if policy:
        return [in_force(index, policy, as_of).key]
    as_of = parse_date(as_of, "The as-of date")
    keys = [in_force(index, pid, as_of).key for pid, versions in index.versions.items()
            if versions[0].version is None or versions[0].version <= as_of]
    if not keys:
        first = min(v[0].version for v in index.versions.values())
        raise PolicyQAError(f"no policy had a version in force on {as_of}; the first is from {first}.")
    return keys


@dataclass(frozen=True)
class Rows:
    """The index rows a search reads, as ranges [a, b), ascending, adjacent ones merged: the latest versions come
    first in the index, so by default (every policy's latest) both are one range."""

    clauses: list[tuple[int, int]]
    sentences: list[tuple[int, int]]

    def clause_rows(self) -> range | np.ndarray:
        """The clause rows in order: a range when they are one, so `take` is a slice, not a copy."""
        if len(self.clauses) == 1:
            return range(*self.clauses[0])
        return np.concatenate([np.arange(lo, hi) for lo, hi in self.clauses]) if self.clauses else np.zeros(0, int)

    def take(self, values: np.ndarray) -> np.ndarray:
        """The entries of a per-clause array (e.g. lexical scores) at the clause rows, in order."""
        rows = self.clause_rows()
        return values[rows.start:rows.stop] if isinstance(rows, range) else values[rows]


def rows(index: Index, scope: str | Sequence[str] | None) -> Rows:
    """The rows of a scope: a policy id (its latest version) or a document key ('leje@2019-01-01'), a list of
    document keys (what `scope` returns), or None: the latest version of every policy."""
    keys = list(index.policies) if scope is None else [scope] if isinstance(scope, str) else list(scope)
    return Rows(_merged([index.ranges[key] for key in keys]), _merged([index.sentence_ranges.get(key, (0, 0))
                                                                       for key in keys]))


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
