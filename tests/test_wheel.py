"""The wheel works outside the repository: built, installed into a fresh virtual environment, synthesized from."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

APP = textwrap.dedent(
    """
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
)


@pytest.mark.slow
def test_wheel_installs_and_synthesizes_outside_the_checkout(tmp_path: Path) -> None:
    # GIVEN a wheel built from the checkout
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "constructs_pkg/stream_trigger.py" in names
    assert "lambda_src/stream_runtime/batch.py" in names
    assert "constructs_pkg/py.typed" in names
    assert not [name for name in names if name.startswith(("tests/", "examples/", "benchmarks/"))]

    # AND a fresh virtual environment with only the wheel and what it declares
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)

    # WHEN a CDK app in a directory outside the checkout synthesizes a StreamTriggeredTable, bundling on
    project = tmp_path / "project"
    (project / "src" / "orders").mkdir(parents=True)
    (project / "src" / "orders" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (project / "app.py").write_text(APP)
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment["CDK_OUTDIR"] = str(project / "cdk.out")
    result = subprocess.run(
        [venv / "bin" / "python", "app.py"], cwd=project, env=environment, check=True, capture_output=True, text=True
    )

    # THEN the package came from the virtual environment, and both assets are staged
    assert result.stdout.strip().startswith(str(venv))
    staged = {path.relative_to(project / "cdk.out").as_posix() for path in (project / "cdk.out").rglob("*.py")}
    assert any(path.endswith("/python/lambda_src/stream_runtime/batch.py") for path in staged), staged
    assert any(path.startswith("asset.") and path.endswith("/app.py") for path in staged), staged
    assert (project / "cdk.out" / "Outside.template.json").is_file()
