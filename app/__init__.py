"""PolicyQA: answers questions about policies by quoting, word for word, the clauses that answer them."""

__version__ = "0.17.0"
