"""Which version of a policy answers: the latest by default, or the one in force on a date.

A corpus file `ID@YYYY-MM-DD.EXT` is the version of policy ID in force from that date; a plain `ID.EXT` is its
single version, dated by the effective or archive date it states, if any (documents.py reads both). An
undated single version is in force at any date.
"""

from __future__ import annotations

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
