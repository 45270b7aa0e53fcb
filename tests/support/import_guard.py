"""Keep a test tier to what it says it needs: refuse imports of named packages.

A meta path finder sees every import that is not already in sys.modules, direct or
transitive (a unit test importing asyncinfer.local.endpoint_service pulls in moto through
platform_io), so the refusal names the package however it was reached.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class ForbiddenImport(ImportError):
    pass


class ImportGuard(importlib.abc.MetaPathFinder):
    def __init__(self, packages: Sequence[str], advice: str) -> None:
        self.packages = frozenset(packages)
        self.advice = advice

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        package = fullname.partition(".")[0]
        if package in self.packages:
            raise ForbiddenImport(f"{package} may not be imported here; {self.advice}")
        return None


def forbid_imports(packages: Sequence[str], advice: str) -> list[str]:
    """Install the guard; returns the packages this process had imported already, which it
    cannot see (pytest run over several tiers at once)."""
    sys.meta_path.insert(0, ImportGuard(packages, advice))
    return sorted(name for name in packages if name in sys.modules)
