"""The package's shape: one top-level package, and layers that import only downwards."""

from __future__ import annotations

import ast
import importlib.util
import re
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
                base = base[: len(base) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module)
    return names


def _shared_modules() -> list[Path]:
    return [
        p
        for p in sorted((REPO / "edgecloud").rglob("*.py"))
        if p.relative_to(REPO / "edgecloud").parts[0] not in ABOVE_SHARED
    ]


def test_the_shared_layer_imports_no_component():
    offenders = {}
    for path in _shared_modules():
        bad = _component_imports(_imports(path))
        if bad:
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}


def _component_imports(names: set[str]) -> list[str]:
    return sorted(
        name
        for name in names
        if name.split(".")[0] in COMPONENTS
        or (name.startswith("edgecloud.") and name.split(".")[1] in COMPONENTS + ("wiring", "cli"))
    )


def test_the_layer_check_sees_a_component_import(tmp_path):
    # The check must be able to fail: absolute and relative imports of a component are both caught.
    probe = tmp_path / "probe.py"
    probe.write_text("from edgecloud.controller import store\nfrom ..edge import spool\nimport worker.main\n")
    assert _component_imports(_imports(probe, "edgecloud.detect")) == [
        "edgecloud.controller",
        "edgecloud.edge",
        "worker.main",
    ]


# --- The layering the README states (its "Layers" paragraph is exactly these checks) ---
COMPOSITION_ROOT = ("edgecloud.cli", "edgecloud.wiring")
SEAM = "edgecloud/aws.py"
# A bench drives a component's real code: the fault rig runs the Pi's spool and uploader.
ALLOWED_BETWEEN_COMPONENTS = {("bench", "edge")}
AWS_CLIENTS = {
    "s3",
    "sqs",
    "ec2",
    "autoscaling",
    "dynamodb",
    "sns",
    "cloudwatch",
    "cloudformation",
    "secretsmanager",
    "client",
}
ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}


def _module_of(path: Path) -> str:
    """The installed module name of a file of the tree: edge/agent.py -> edgecloud.edge.agent."""
    parts = path.relative_to(REPO).with_suffix("").parts
    parts = parts if parts[0] == "edgecloud" else ("edgecloud",) + parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    module = _module_of(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _code_files() -> list[Path]:
    """Every module that ships: edgecloud/ and the components."""
    return [p for top in ("edgecloud",) + COMPONENTS for p in sorted((REPO / top).rglob("*.py"))]


def _component_files() -> list[Path]:
    return [p for top in COMPONENTS for p in sorted((REPO / top).rglob("*.py"))]


def _root_imports(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == r or n.startswith(r + ".") for r in COMPOSITION_ROOT))


def test_no_component_imports_the_cli_or_the_wiring():
    offenders = {
        str(p.relative_to(REPO)): bad for p in _component_files() if (bad := _root_imports(_imports(p, _package_of(p))))
    }
    assert offenders == {}


def test_the_composition_root_check_sees_a_component_import_it(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from edgecloud.cli import Context\nfrom ...wiring.localcloud import EmbeddedAws\n"
        "import edgecloud.wiring\nfrom edgecloud.context import pass_context\n"
    )
    assert _root_imports(_imports(probe, "edgecloud.bench.sub")) == [
        "edgecloud.cli",
        "edgecloud.wiring",
        "edgecloud.wiring.localcloud",
    ]


def _other_components(own: str, names: set[str]) -> list[str]:
    found = []
    for name in names:
        parts = name.split(".")
        if (
            len(parts) > 1
            and parts[0] == "edgecloud"
            and parts[1] in COMPONENTS
            and parts[1] != own
            and (own, parts[1]) not in ALLOWED_BETWEEN_COMPONENTS
        ):
            found.append(name)
    return sorted(found)


def test_components_import_no_other_component():
    offenders = {}
    for path in _component_files():
        own = path.relative_to(REPO).parts[0]
        if bad := _other_components(own, _imports(path, _package_of(path))):
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}


def test_the_component_check_sees_one_component_importing_another(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from edgecloud.controller import store\nfrom ...edge import spool\nfrom .. import ledger\n")
    assert _other_components("worker", _imports(probe, "edgecloud.worker.sub")) == [
        "edgecloud.controller",
        "edgecloud.edge",
    ]
    assert _other_components("bench", _imports(probe, "edgecloud.bench.sub")) == ["edgecloud.controller"]


def _aws_library_imports(path: Path) -> list[str]:
    """boto3 itself, or botocore beyond its exception types (what callers catch)."""
    return sorted(
        n
        for n in _plain_imports(path)
        if n.split(".")[0] == "boto3" or (n.split(".")[0] == "botocore" and n != "botocore.exceptions")
    )


def test_only_the_seam_imports_boto3():
    offenders = {
        str(p.relative_to(REPO)): bad
        for p in _code_files()
        if str(p.relative_to(REPO)) != SEAM and (bad := _aws_library_imports(p))
    }
    assert offenders == {}
    assert _aws_library_imports(REPO / SEAM) == ["boto3", "botocore.config"]


def test_the_seam_check_sees_boto3_elsewhere(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import boto3.session\nfrom botocore.config import Config\nfrom botocore.exceptions import ClientError\n"
    )
    assert _aws_library_imports(probe) == ["boto3.session", "botocore.config"]


def _client_calls_in_views(path: Path) -> list[str]:
    """In a module that defines HTTP routes, every use of an AWS client (``.s3``, ``.sqs``, ...)."""
    tree = ast.parse(path.read_text(), str(path))
    is_view = any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for d in node.decorator_list
    )
    if not is_view:
        return []
    return sorted(
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in AWS_CLIENTS
    )


def test_views_reach_aws_only_through_a_store():
    offenders = {str(p.relative_to(REPO)): bad for p in _code_files() if (bad := _client_calls_in_views(p))}
    assert offenders == {}


def test_the_view_check_sees_a_view_calling_a_client(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("@bp.get('/x')\ndef x():\n    return get_aws().sqs.receive_message(QueueUrl='u')\n")
    assert _client_calls_in_views(probe) == ["line 3: .sqs"]
    probe.write_text("def helper():\n    return get_aws().sqs\n")  # not a view: a store may
    assert _client_calls_in_views(probe) == []


def _credential_keys(path: Path) -> list[str]:
    """String literals (or f-strings) that begin with a key prefix of the credentials table."""
    from edgecloud.credentials import KEY_PREFIXES

    tree = ast.parse(path.read_text(), str(path))
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found = []
    for node in ast.walk(tree):
        head = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
        if (
            id(node) not in parts
            and isinstance(head, ast.Constant)
            and isinstance(head.value, str)
            and head.value.startswith(KEY_PREFIXES)
        ):
            found.append(f"line {node.lineno}: {head.value!r}")
    return sorted(found)


def test_only_the_credentials_module_spells_the_credentials_tables_keys():
    owner = REPO / "edgecloud" / "credentials.py"
    offenders = {str(p.relative_to(REPO)): bad for p in _code_files() if p != owner and (bad := _credential_keys(p))}
    assert offenders == {}
    assert _credential_keys(owner)  # the check reads the owner's prefixes


def test_the_key_check_sees_a_module_writing_its_own_prefix(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("key = {'pk': {'S': f'quota#{device}#{day}'}}\nold = 'dashboard#secret-key'\nok = 'sk#1'\n")
    assert _credential_keys(probe) == ["line 1: 'quota#'", "line 2: 'dashboard#secret-key'"]


def _import_graph(files: list[Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``files`` it imports (anywhere in it, lazy imports too)."""
    modules = {_module_of(p): p for p in files}
    graph = {}
    for module, path in modules.items():
        graph[module] = set()
        for name in _imports(path, _package_of(path)):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):  # a package's own __init__
                graph[module].add(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that lies on one (depth-first search, sorted for a stable answer)."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_shared_layer_has_no_import_circle():
    # aws.py made tables by importing clip_table, credentials and workers, which import aws.py.
    assert _cycles(_import_graph(_shared_modules())) == []


def test_the_circle_check_sees_a_circle(tmp_path):
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


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
    big = {
        str(p.relative_to(REPO)): n
        for p in REPO.glob("**/*.py")
        if not {".venv", "tests", "build", "var"} & set(p.relative_to(REPO).parts)
        and (n := len(p.read_text().splitlines())) > 300
    }
    assert big == {}


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory) -> tuple[zipfile.ZipFile, str]:
    """The wheel pip builds from the tree, and what the build printed (pip -v shows setuptools' warnings)."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
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
    wanted = {
        f"{prefix}/{p.relative_to(root).as_posix()}"
        for prefix, root in roots.items()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert wanted - names == set()


# --- docs/development.md's "Layout", "Layers" and "Names" say what the tree holds ---
DEVELOPMENT = REPO / "docs" / "development.md"


def _section(title: str) -> str:
    found = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", DEVELOPMENT.read_text(), re.M | re.S)
    assert found, f"docs/development.md has no '## {title}' section"
    return found.group(1)


def _layout_rows() -> list[list[str]]:
    """The Layout table's rows: [path, installs as, what]."""
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in _section("Layout").splitlines()
        if line.startswith("| `")
    ]


def _layout_errors(rows: list[list[str]]) -> list[str]:
    """A row whose folder is missing, that installs under another name, or that names a module
    (a backticked lower-case name, ``name/`` for a package) its folder lacks."""
    errors = []
    for path, installs, what in rows:
        folder = REPO / path.strip("`")
        if not folder.is_dir():
            errors.append(f"{path}: no such folder")
            continue
        if installs != "—" and installs.strip("`") != _module_of(folder / "__init__.py"):
            errors.append(f"{path}: installs as {_module_of(folder / '__init__.py')}, not {installs}")
        for name in re.findall(r"`([a-z_][a-z0-9_]*/?)`", what):
            module = folder / name[:-1] / "__init__.py" if name.endswith("/") else folder / f"{name}.py"
            if not module.is_file():
                errors.append(f"{path}: no module {name}")
    return errors


def test_the_layout_table_is_the_tree():
    rows = _layout_rows()
    assert _layout_errors(rows) == []
    listed = {row[0].strip("`").split("/")[0] for row in rows}
    assert {"edgecloud", *COMPONENTS, "ami", "tests"} <= listed


def test_the_layout_check_sees_a_stale_row():
    rows = [
        ["`worker/`", "`edgecloud.worker`", "`jobs` (one job message), `frames`, `lambda_/`"],
        ["`worker/serverless/`", "`edgecloud.worker.serverless`", "the emulation"],
        ["`edge/`", "`edgecloud.edge.agent`", "the Pi"],
    ]
    assert _layout_errors(rows) == [
        "`worker/`: no module jobs",
        "`worker/serverless/`: no such folder",
        "`edge/`: installs as edgecloud.edge, not `edgecloud.edge.agent`",
    ]


def _retired_names() -> list[str]:
    (line,) = [line for line in _section("Names").split("\n- ") if line.startswith("Retired names")]
    return re.findall(r"`([a-z_]+)`", line.partition(":")[2])


def _named(names: list[str], paths: list[Path]) -> list[str]:
    """Paths among ``paths`` (files and their folders) named by one of ``names``: a module, a package or test_<name>."""
    wanted = set(names) | {f"test_{n}" for n in names}
    hits = {p.relative_to(REPO).as_posix() for p in paths if p.stem in wanted}
    hits |= {
        d.relative_to(REPO).as_posix() + "/"
        for p in paths
        for d in p.parents
        if d.is_relative_to(REPO) and d != REPO and d.name in wanted
    }
    return sorted(hits)


def test_no_module_folder_or_test_has_a_retired_name():
    retired = _retired_names()
    assert {"function", "serverless", "scale_in", "lifecycle"} <= set(retired)
    files = [
        p
        for top in ("edgecloud", "tests") + COMPONENTS
        for p in (REPO / top).rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    assert _named(retired, files) == []


def test_the_name_check_sees_a_retired_name():
    planted = [
        REPO / "worker" / "serverless" / "cli.py",
        REPO / "worker" / "jobs.py",
        REPO / "tests" / "edge" / "test_results.py",
        REPO / "worker" / "main.py",
    ]
    assert _named(["serverless", "jobs", "results"], planted) == [
        "tests/edge/test_results.py",
        "worker/jobs.py",
        "worker/serverless/",
    ]


def test_every_path_the_names_section_gives_exists():
    paths = [p for p in re.findall(r"`([\w./]+)`", _section("Names")) if p.endswith((".py", "/"))]
    assert "worker/lambda_/" in paths and "edgecloud/result_store.py" in paths
    assert [p for p in paths if not (REPO / p).exists()] == []


def _top_level_component_imports(path: Path) -> list[str]:
    """What a module imports from a component when it is imported (not inside a function)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(("edgecloud." if node.level else "") + node.module)
    return _component_imports(names)


def test_commands_are_imported_only_when_called():
    # The Layers section: SUBCOMMANDS names each command as "module:attribute", and edgecloud.cli imports
    # no component itself, so `edgecloud edge` on a Pi never imports the worker's or the controller's code.
    from edgecloud.cli import SUBCOMMANDS

    assert _top_level_component_imports(REPO / "edgecloud" / "cli.py") == []
    for name, (target, _) in SUBCOMMANDS.items():
        module, _, attr = target.partition(":")
        assert attr and importlib.util.find_spec(module) is not None, name
    assert "`SUBCOMMANDS`" in _section("Layers")


def test_the_lazy_command_check_sees_an_eager_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from edgecloud.worker.cli import worker\nfrom .config import load\n"
        "def f():\n    from edgecloud.edge.cli import edge\n"
    )
    assert _top_level_component_imports(probe) == ["edgecloud.worker.cli"]
