"""The package's shape: one top-level package, and layers that import only downwards."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = ("edge", "controller", "worker", "infra", "bench")
# The layers above the shared code: what imports components, and may.
ABOVE_SHARED = ("wiring", "cli.py")


def _imports(path: Path, package: str = "") -> set[str]:
    """Absolute module names a file imports (relative imports resolved against ``package``,
    by default the file's own package under edgecloud/)."""
    tree = ast.parse(path.read_text(), str(path))
    package = package or ".".join(("edgecloud",) + path.relative_to(REPO / "edgecloud").parent.parts)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module)
    return names


def _shared_modules() -> list[Path]:
    return [p for p in sorted((REPO / "edgecloud").rglob("*.py"))
            if p.relative_to(REPO / "edgecloud").parts[0] not in ABOVE_SHARED]


def test_the_shared_layer_imports_no_component():
    offenders = {}
    for path in _shared_modules():
        bad = _component_imports(_imports(path))
        if bad:
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}


def _component_imports(names: set[str]) -> list[str]:
    return sorted(name for name in names
                  if name.split(".")[0] in COMPONENTS
                  or (name.startswith("edgecloud.") and name.split(".")[1] in COMPONENTS + ("wiring", "cli")))


def test_the_layer_check_sees_a_component_import(tmp_path):
    # The check must be able to fail: absolute and relative imports of a component are both caught.
    probe = tmp_path / "probe.py"
    probe.write_text("from edgecloud.controller import store\nfrom ..edge import spool\nimport worker.main\n")
    assert _component_imports(_imports(probe, "edgecloud.detect")) == ["edgecloud.controller", "edgecloud.edge",
                                                                       "worker.main"]


def test_no_component_is_imported_by_its_old_top_level_name():
    offenders = []
    for path in sorted(REPO.glob("**/*.py")):
        if ".venv" in path.parts or "build" in path.parts:
            continue
        for name in _imports(path) if path.is_relative_to(REPO / "edgecloud") else _plain_imports(path):
            if name.split(".")[0] in COMPONENTS:
                offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []


def _plain_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module)
    return names


def test_no_module_outside_tests_is_over_300_lines():
    big = {str(p.relative_to(REPO)): n for p in REPO.glob("**/*.py")
           if not {".venv", "tests", "build", "var"} & set(p.relative_to(REPO).parts)
           and (n := len(p.read_text().splitlines())) > 300}
    assert big == {}


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory) -> tuple[zipfile.ZipFile, str]:
    """The wheel pip builds from the tree, and what the build printed (pip -v shows setuptools' warnings)."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = out.glob("edgecloud-*.whl")
    return zipfile.ZipFile(built), done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(wheel_build) -> zipfile.ZipFile:
    return wheel_build[0]


def test_the_build_prints_no_setuptools_warning(wheel_build):
    warnings = [line.strip() for line in wheel_build[1].splitlines() if "Warning" in line]
    assert warnings == []


def test_the_wheel_holds_one_top_level_package_with_the_components_inside(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"edgecloud"}
    names = set(wheel.namelist())
    for component in COMPONENTS:
        assert f"edgecloud/{component}/__init__.py" in names


def test_the_wheel_carries_every_module_and_data_file_of_the_tree(wheel):
    names = set(wheel.namelist())
    # Every file of the tree, data included (the dashboard's favicon was once left out).
    roots = {"edgecloud": REPO / "edgecloud", **{f"edgecloud/{c}": REPO / c for c in COMPONENTS}}
    wanted = {f"{prefix}/{p.relative_to(root).as_posix()}" for prefix, root in roots.items()
              for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert wanted - names == set()
