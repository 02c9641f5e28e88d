"""One registry for every kind of plugin: pretext tasks, encoders, dataset adapters, video decoders,
evaluation protocol kinds, optimizers and launchers.

A :class:`Registry` maps names to objects (classes or factories). Built-ins register themselves with
the :meth:`Registry.register` decorator when their module is imported; third-party packages declare
an entry point in the registry's group (``[project.entry-points."ssl_video.pretext"]``, say,
``mytask = "mypkg.tasks:MyTask"``), loaded the first time a name is missing or the names are listed.
An entry point may point at an object that registers itself on import, or at a bare object, which
is registered under the entry point's name. A plugin that fails to import is skipped with a warning:
a broken plugin must not break the built-ins. An unknown name is an error that suggests the closest
registered names (:meth:`Registry.unknown`).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(MutableMapping[str, T], Generic[T]):
    """Named plugins of one kind.

    ``kind``: how messages name them ("pretext task"); ``group``: the entry-point group (None: no
    third-party discovery); ``accept``: whether an object loaded from an entry point is one of them;
    ``on_register(name, obj)``: called when a name is registered (e.g. to set ``cls.name``);
    ``wrap``: turns an object loaded from an entry point into the value registered (default: as is).
    Reading it as a mapping never loads entry points; :meth:`get_or_raise`, :meth:`names` and
    ``in``-tests through :meth:`knows` do.
    """

    def __init__(
        self,
        kind: str,
        group: str | None,
        accept: Callable[[Any], bool] = callable,
        on_register: Callable[[str, T], None] | None = None,
        wrap: Callable[[Any], T] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._accept = accept
        self._on_register = on_register
        self._wrap = wrap or (lambda obj: obj)
        self._items: dict[str, T] = {}
        self._entry_points_loaded = group is None
        self._discover = entry_points  # replaced in tests

    # -- mapping ---------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        return self._items[name]

    def __setitem__(self, name: str, obj: T) -> None:
        self.add(name, obj)

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    # -- registering -----------------------------------------------------------------------------
    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name``; the same object again is a no-op, another one a ValueError."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
        if name in self._items and self._items[name] is not obj:
            owner = getattr(self._items[name], "__module__", "?")
            raise ValueError(f"{self.kind} {name!r} is already registered (by {owner})")
        if self._on_register is not None:
            self._on_register(name, obj)
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@TASKS.register("vcop")``."""
        return lambda obj: self.add(name, obj)

    # -- lookup ----------------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Register the objects of this registry's entry-point group (once)."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in self._discover(group=self.group):
            if ep.name in self._items:
                continue
            try:
                obj = ep.load()  # may register itself on import
            except Exception as e:  # a broken plugin must not break the built-ins
                warnings.warn(
                    f"{self.kind} entry point {ep.name!r} ({ep.value}) failed to load: {e}", stacklevel=3
                )
                continue
            if ep.name not in self._items and self._accept(obj):
                self.add(ep.name, self._wrap(obj))

    def names(self) -> list[str]:
        """Every registered name (built-in and entry points), sorted."""
        self.load_entry_points()
        return sorted(self._items)

    def knows(self, name: str) -> bool:
        """Whether ``name`` is registered, looking at entry points when it is not a built-in."""
        if name not in self._items:
            self.load_entry_points()
        return name in self._items

    def unknown(self, name: str, what: str | None = None, cutoff: float = 0.5) -> str:
        """The message for an unknown name: ``unknown <kind> 'x'; did you mean a, b? (registered: ...)``;
        ``what`` replaces ``'x'`` (e.g. ``'task.name=x'``)."""
        close = difflib.get_close_matches(str(name), list(self._items), n=3, cutoff=cutoff)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(self._items))
        return f"unknown {self.kind} {what or repr(name)}{hint} (registered: {known})"

    def get_or_raise(self, name: str, error: type[Exception] = KeyError, **message) -> T:
        """The object registered as ``name`` (loading entry points on a miss); ``error`` with
        :meth:`unknown`'s message otherwise."""
        if not self.knows(name):
            raise error(self.unknown(name, **message))
        return self._items[name]
