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
from typing import Any, TypeVar

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
        self._modules: dict[str, ModuleType] = {}
        self._loggers: dict[str, Any] = {}
        self._boto3_session: Any = None

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Inside: this function's modules and loggers are the process's ones, and its layers close ``sys.path``."""
        other_modules = self._swap_in(sys.modules, self._modules)
        # Loggers are module state too (handlers added at import): each function configures its own.
        other_loggers = self._swap_in(logging.root.manager.loggerDict, self._loggers)
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
            self._loggers = self._swap_in(logging.root.manager.loggerDict, other_loggers)
            self._modules = self._swap_in(sys.modules, other_modules)

    def _swap_in(self, registry: dict[str, _T], entries: dict[str, _T]) -> dict[str, _T]:
        """Put ``entries`` in ``registry`` in place of the own names' current entries, which are returned."""
        current = {name: value for name, value in registry.items() if name.partition(".")[0] in self.own_names}
        for name in current:
            del registry[name]
        registry.update(entries)
        return current


class _OwnNamesFinder(MetaPathFinder):
    """Finds the sandbox's top-level names in its directories only; submodules follow their package's ``__path__``."""

    def __init__(self, own_names: frozenset[str], directories: list[str]) -> None:
        self._own_names = own_names
        self._directories = directories

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
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
