"""One Lambda sandbox's Python modules, kept apart from every other function's in the same process.

In Lambda each function imports its code (``/var/task``) and its layers (``/opt/python``) in a process of its own, so
module-level state (configuration read at import, cached clients, thread pools) belongs to that function. The local
runner calls every function in one process; a ``ModuleSandbox`` gives each one its own copy of the packages found in
its code and layer directories, swapped into ``sys.modules`` only while that function loads or runs. Two functions whose
handlers share a name (``index.handler``) or a library (the runtime layer's ``lambda_src``) each get their own.

Packages that pip installed into a layer (they have ``*.dist-info`` metadata there) are dependencies: the runner's own
installed copy is used when it has one, since a layer built for the Lambda runtime may hold binaries for another
Python version; the layer's copy is the fallback.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import logging
import sys
from collections.abc import Iterator, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar

__all__ = ["ModuleSandbox"]

_T = TypeVar("_T")


class ModuleSandbox:
    """The modules of one function: its code directory's and layers' packages, imported from there and kept here."""

    def __init__(self, directories: Sequence[Path]) -> None:
        """``directories``: the code directory, then the layers' directories, in Lambda's search order."""
        self._directories = [str(directory) for directory in directories]
        installed = set().union(*(_installed_names(directory) for directory in directories))
        self.own_names = frozenset(
            name for directory in directories for name in _top_level_names(directory) if name not in installed
        )
        self._finder = _OwnNamesFinder(self.own_names, self._directories)
        self._modules = _Swapped(sys.modules, self.own_names)
        # Loggers are module state too (handlers added at import): each function configures its own.
        self._loggers = _Swapped(logging.root.manager.loggerDict, self.own_names)
        self._boto3_session: Any = None

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Inside: this function's modules and loggers are the process's ones, and its layers close ``sys.path``."""
        self._finder.imported = False
        self._modules.swap_in()
        self._loggers.swap_in()
        sys.meta_path.insert(0, self._finder)
        sys.path.extend(self._directories)
        boto3: Any = sys.modules.get("boto3")
        # So is boto3's default session: each function keeps its own, made with its environment.
        other_session = getattr(boto3, "DEFAULT_SESSION", None)
        if boto3 is not None:
            boto3.DEFAULT_SESSION = self._boto3_session
        try:
            yield
        finally:
            boto3 = sys.modules.get("boto3")
            if boto3 is not None:
                self._boto3_session = boto3.DEFAULT_SESSION
                boto3.DEFAULT_SESSION = other_session
            # By value, from the end: the function may have put entries of its own on the path meanwhile.
            for directory in reversed(self._directories):
                del sys.path[len(sys.path) - 1 - sys.path[::-1].index(directory)]
            sys.meta_path.remove(self._finder)
            # Every import inside asked the finder first; without one, only a direct sys.modules edit could have
            # changed the registry, and that changes its size.
            self._loggers.swap_out(changed=self._finder.imported)
            self._modules.swap_out(changed=self._finder.imported)


class _Swapped(Generic[_T]):
    """The entries of ``registry`` (sys.modules, or the logger registry) under ``own_names`` (``name`` or
    ``name.*``): the sandbox's own while it is entered, the others' while it is not.

    Finding them means reading every entry of the registry, thousands of them; that is skipped when the registry's
    size says nothing came or went since the last swap: the entries are then the ones the swap left there.
    """

    def __init__(self, registry: dict[str, _T], own_names: frozenset[str]) -> None:
        self._registry = registry
        self._own_names = own_names
        # The sandbox's entries while it is out; the others' (what it took out) while it is in.
        self._kept: dict[str, _T] = {}
        # The registry's size right after the last swap, and the own names' entries it then held.
        self._size_after_swap: int | None = None
        self._present: dict[str, _T] = {}

    def swap_in(self) -> None:
        self._kept = self._swap(self._kept, changed=False)

    def swap_out(self, *, changed: bool) -> None:
        self._kept = self._swap(self._kept, changed=changed)

    def _swap(self, entries: dict[str, _T], *, changed: bool) -> dict[str, _T]:
        """Put ``entries`` in place of the own names' current entries, which are returned."""
        registry = self._registry
        if changed or len(registry) != self._size_after_swap:
            current = {name: value for name, value in registry.items() if name.partition(".")[0] in self._own_names}
        else:
            current = self._present
        for name in current:
            del registry[name]
        registry.update(entries)
        self._size_after_swap, self._present = len(registry), entries
        return current


class _OwnNamesFinder(MetaPathFinder):
    """Finds the sandbox's top-level names in its directories only; submodules follow their package's ``__path__``."""

    def __init__(self, own_names: frozenset[str], directories: list[str]) -> None:
        self._own_names = own_names
        self._directories = directories
        # Whether an import asked since the sandbox was last entered: it may have added to sys.modules.
        self.imported = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.imported = True
        if path is not None or fullname not in self._own_names:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, self._directories)


def _top_level_names(directory: Path) -> set[str]:
    """The packages and modules importable from ``directory``."""
    names = set()
    for entry in directory.iterdir() if directory.is_dir() else ():
        if entry.is_dir():
            if entry.name.isidentifier() and entry.name != "__pycache__":
                names.add(entry.name)
        elif entry.suffix in (".py", ".so", ".pyd") and entry.name.partition(".")[0].isidentifier():
            names.add(entry.name.partition(".")[0])
    return names


def _installed_names(directory: Path) -> set[str]:
    """The top-level names pip installed into ``directory``, read from its ``*.dist-info/RECORD`` files."""
    names = set()
    for record in directory.glob("*.dist-info/RECORD"):
        for line in record.read_text(encoding="utf-8").splitlines():
            first = line.partition(",")[0].partition("/")[0]
            if first and not first.endswith((".dist-info", ".data")):
                names.add(first.partition(".")[0])
    return names
