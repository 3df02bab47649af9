"""`RecentMap`: per-key state kept for the most recently used keys only.

The code interpreter remembers things per thread (files staged into /mnt/data, files the code
made) and per run (figures for the answer) for as long as the server lives; a map of every
thread ever seen would grow for ever. This one keeps the `size` keys used last and drops the
oldest: what is forgotten is only redone (a file staged again) or left unlinked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class RecentMap(Generic[V]):
    """A bounded `defaultdict`: `m[key]` makes the value if missing and marks the key used."""

    def __init__(self, size: int, factory: Callable[[], V]) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._size = size
        self._factory = factory
        self._items: OrderedDict[str, V] = OrderedDict()

    def __getitem__(self, key: str) -> V:
        value = self._items.get(key)
        if value is None:
            value = self._items[key] = self._factory()
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return value

    def get(self, key: str) -> V | None:
        """The value if present (marking it used), else None; never adds."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def pop(self, key: str) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
