"""A foreign data wrapper that reports which Multicorn runtime loaded it, as the backend sees
it: the files of the `multicorn` Python package and of its `_utils` module, and the multicorn
shared library mapped into the backend process (tests/test_runtime_identity.py)."""
import sys

import multicorn
import multicorn.utils  # noqa: F401  (loads multicorn._utils)
from multicorn import ForeignDataWrapper


def mapped_multicorn_library() -> str:
    with open("/proc/self/maps") as maps:
        paths = {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6}
    found = sorted(p for p in paths if p.endswith("/multicorn.so"))
    return "\n".join(found)


class RuntimeProbeFdw(ForeignDataWrapper):
    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        utils = sys.modules.get("multicorn._utils")
        yield {
            "multicorn_py": multicorn.__file__,
            "base_class_py": sys.modules[ForeignDataWrapper.__module__].__file__,
            "utils_file": getattr(utils, "__file__", None) if utils else None,
            "library": mapped_multicorn_library(),
        }
