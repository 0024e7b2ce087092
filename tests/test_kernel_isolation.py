"""The trusted kernel (``verisnn/kernel/``) shares no code with the engine: its modules
import only the standard library, numpy, jsonschema and each other — at the top of a
module or inside a function alike, and never through ``importlib`` or ``__import__``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

KERNEL = Path(__file__).resolve().parent.parent / "verisnn" / "kernel"
ALLOWED = {"numpy", "jsonschema"} | set(sys.stdlib_module_names)
MODULES = sorted(KERNEL.glob("*.py"))


def imports_outside_the_kernel(path: Path) -> list[str]:
    """What a kernel module imports that is neither allowed nor a sibling module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] not in ALLOWED]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module.split(".")[0] not in ALLOWED:
                found.append(node.module)
            elif node.level > 1:  # from .. import: out of the kernel's folder
                found.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Name) and node.id == "__import__" or \
                isinstance(node, ast.alias) and node.name == "importlib":
            found.append(getattr(node, "id", None) or node.name)
    return found


def test_the_kernel_has_its_modules():
    names = {p.stem for p in MODULES}
    assert {"network", "conditions", "regions", "encoders", "intervals", "tree", "check", "hardware",
            "guard"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_a_kernel_module_imports_nothing_of_the_engine(path):
    assert imports_outside_the_kernel(path) == []


def test_the_isolation_test_catches_an_engine_import(tmp_path):
    """The check itself can fail: each way of reaching the engine is caught."""
    for line in ("from ..simulator import simulate", "import verisnn.semantics", "from verisnn import bounds",
                 "def f():\n    from .. import verify", "import scipy", "m = __import__('verisnn')"):
        bad = tmp_path / "bad.py"
        bad.write_text(line + "\n")
        assert imports_outside_the_kernel(bad), line
