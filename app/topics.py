"""Policy topics (after OPP-115's categories), used to filter clauses and as a retrieval signal."""

from __future__ import annotations

TOPICS: dict[str, str] = {
    "collection": "What is collected",
    "sharing": "Sharing and third parties",
    "retention": "Retention and deletion",
    "security": "Security",
    "cookies": "Cookies and tracking",
    "rights": "Your rights (access, correction, deletion)",
    "children": "Children",
    "changes": "Policy changes",
    "contact": "Contact",
    "other": "Other",
}
