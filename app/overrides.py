"""A fitted part put in place of the one the package ships while a block of code runs: held-out evaluation asks
each policy's questions with the topic model, adapter, excerpt model and weights fitted without it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Override(Generic[T]):
    def __init__(self, shipped: Callable[[], T]) -> None:
        self._shipped = shipped
        self._chosen: list[T] = []

    def current(self) -> T:
        """The innermost value put in place by `using`, else the shipped one."""
        return self._chosen[-1] if self._chosen else self._shipped()

    @contextmanager
    def using(self, value: T) -> Iterator[None]:
        self._chosen.append(value)
        try:
            yield
        finally:
            self._chosen.pop()
