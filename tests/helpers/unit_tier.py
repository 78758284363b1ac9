"""A pytest plugin that keeps the unit tier honest: with it, importing Kafka's client
libraries or ``infra`` (which starts real services) fails the test that does.

``make unit`` and ``make test`` load it for ``tests/unit`` (``pytest -p tests.helpers.unit_tier``).
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

UNIMPORTABLE = ("confluent_kafka", "quixstreams", "infra")


class _Refused(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname.split(".")[0] in UNIMPORTABLE:
            raise ImportError(
                f"the unit tier imported {fullname}: unit tests run without Kafka's client"
                " and without infra; move the test to tests/integration or import lazily"
            )
        return None


loaded = [name for name in sys.modules if name.split(".")[0] in UNIMPORTABLE]
if loaded:
    raise ImportError(f"already imported before the unit tier's guard: {loaded[:3]}")
sys.meta_path.insert(0, _Refused())
