"""One small registry type for every table of named entries (like timm's ``register_model``).

Priors, instruments, substructure kinds, backbones, heads, fusion ops, readers, writers,
search kinds, pruners ... are each one :class:`Registry`. Adding an entry is one decorated
definition; a name can be registered once; looking up an unknown name raises the one-line
"expected one of ..." :class:`~darklens.errors.DarklensError` that names the config field; and
config validation reads :meth:`Registry.names` instead of copying the choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from darklens.errors import DarklensError

__all__ = ["REGISTRIES", "Registry", "expected_one_of"]

T = TypeVar("T")

#: every registry ever created, by what it holds (for listing and for the registry test)
REGISTRIES: dict[str, Registry] = {}


def expected_one_of(where: str, choices: Iterable, got: object) -> DarklensError:
    """The one-line error for a value outside a set of choices (raise what it returns)."""
    prefix = f"{where}: " if where else ""
    return DarklensError(f"{prefix}expected one of {', '.join(map(str, choices))}, got {got!r}")


class Registry(Generic[T]):
    """Named entries of one kind.

    Parameters
    ----------
    what : str
        What the entries are (``"backbone"``, ``"prior"`` ...), used in messages.

    Examples
    --------
    >>> HEADS = Registry("head")
    >>> @HEADS.register("point")
    ... class PointHead: ...
    >>> HEADS.get("point", "model.head.kind")
    <class 'darklens.registry.PointHead'>
    """

    def __init__(self, what: str):
        if what in REGISTRIES:
            raise ValueError(f"a registry of {what!r} already exists")
        self.what = what
        self._entries: dict[str, T] = {}
        REGISTRIES[what] = self

    def register(self, name: str, entry: T | None = None) -> Callable[[T], T] | T:
        """Add ``entry`` under ``name``; without ``entry``, a decorator that adds what it wraps.

        Raises
        ------
        ValueError
            If ``name`` is already registered (a programming error, not a user mistake).
        """
        if entry is not None:
            self._add(name, entry)
            return entry

        def deco(obj: T) -> T:
            self._add(name, obj)
            return obj

        return deco

    def _add(self, name: str, entry: T) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.what} names must be non-empty strings, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str, where: str = "") -> T:
        """The entry called ``name``; an unknown name raises the "expected one of" error."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise expected_one_of(where or self.what, self._entries, name) from None

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._entries)

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
