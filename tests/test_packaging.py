"""`pip install fireline` (without the test extras) must bring everything the package imports.

The suite installs the test extras, so a runtime dependency listed only there would pass every
other test and still crash `./scripts/run` on a fresh machine.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "fireline"


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"fireline", "__future__"}


def _requirement_name(spec: str) -> str:
    name = re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(spec) for spec in project["dependencies"]}
    # Packages that come with a declared one (uvicorn[standard] brings uvloop, starlette comes
    # with fastapi, markupsafe with jinja2, ...) are satisfied through it.
    provided_by = {
        "starlette": "fastapi",
        "markupsafe": "jinja2",
        "annotated_types": "pydantic",
        "pydantic_core": "pydantic",
    }
    distributions = packages_distributions()
    missing = []
    for module in sorted(_imported_top_level_modules()):
        if provided_by.get(module) in declared:
            continue
        dists = {_requirement_name(d) for d in distributions.get(module, [module])}
        if not dists & declared:
            missing.append(f"{module} (from {', '.join(sorted(dists))})")
    assert missing == [], f"imported by src/fireline but not in [project] dependencies: {missing}"
