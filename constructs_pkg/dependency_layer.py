"""A Lambda layer of Python packages from a requirements file, built by pip for the function's platform: no Docker."""

from __future__ import annotations

import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .stream_trigger import DEFAULT_RUNTIME

__all__ = ["ANTHROPIC_REQUIREMENTS", "PythonDependencyLayer"]

ANTHROPIC_REQUIREMENTS = Path(__file__).parent / "layers" / "anthropic"
_PIP_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_anthropic_layers: weakref.WeakKeyDictionary[Stack, dict[str, PythonDependencyLayer]] = weakref.WeakKeyDictionary()


@jsii.implements(ILocalBundling)
class _PipInstallForLambda:
    """``pip install --target python/`` of wheels for the function's platform and Python, whatever this machine is."""

    def __init__(self, requirements: Path, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> None:
        self._requirements = requirements
        self._python_version = runtime.name.removeprefix("python")
        self._platform = _PIP_PLATFORMS[architecture.name]

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
            "--target", str(Path(output_dir) / "python"),
            "--platform", self._platform, "--implementation", "cp", "--python-version", self._python_version,
            "--only-binary=:all:",  # a source build would compile for this machine, not for Lambda
            "-r", str(self._requirements / "requirements.txt"),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip could not build the layer from {self._requirements}: {result.stderr[-2000:]}")
        return True


class PythonDependencyLayer(lambda_.LayerVersion):
    """The packages of ``requirements_dir/requirements.txt``, for ``runtime`` on ``architecture``.

    Pip on this machine downloads the platform's wheels (``--platform``, ``--only-binary``), so no Docker is
    needed; ``docker=True`` builds inside the SAM build image instead, for packages without wheels.

    - ``runtime``: Default: python3.14, the library's ``DEFAULT_RUNTIME``.
    - ``architecture``: Default: X86_64.
    - ``description``: Default: - "Python packages of <requirements_dir>/requirements.txt".
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        requirements_dir: Path,
        runtime: lambda_.Runtime | None = None,
        architecture: lambda_.Architecture | None = None,
        docker: bool = False,
        description: str | None = None,
    ) -> None:
        if not (requirements_dir / "requirements.txt").is_file():
            raise ValueError(f"requirements_dir must hold a requirements.txt, got {requirements_dir}")
        runtime = runtime or DEFAULT_RUNTIME
        architecture = architecture or lambda_.Architecture.X86_64
        bundling = BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-{runtime.name}"),
            command=["bash", "-c", "pip install --no-compile -r requirements.txt -t /asset-output/python"],
            platform=architecture.docker_platform,
            # jsii hands the options over as one positional struct, not as the Protocol's keywords.
            local=None if docker else _PipInstallForLambda(requirements_dir, runtime, architecture),  # type: ignore[arg-type]
        )
        super().__init__(
            scope,
            id,
            code=lambda_.Code.from_asset(str(requirements_dir), bundling=bundling),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=description or f"Python packages of {requirements_dir.name}/requirements.txt",
        )

    @classmethod
    def anthropic(cls, scope: Construct, architecture: lambda_.Architecture | None = None) -> PythonDependencyLayer:
        """The stack's layer holding the ``anthropic`` SDK for ``architecture``, made once.

        - ``architecture``: Default: X86_64.
        """
        architecture = architecture or lambda_.Architecture.X86_64
        stack = Stack.of(scope)
        layers = _anthropic_layers.setdefault(stack, {})
        if architecture.name not in layers:
            suffix = "" if architecture.name == "x86_64" else "Arm64"
            layers[architecture.name] = cls(
                stack,
                f"AnthropicSdkLayer{suffix}",
                requirements_dir=ANTHROPIC_REQUIREMENTS,
                architecture=architecture,
                description="The anthropic SDK for dynamodb-stream-constructs' SummaryEnricher",
            )
        return layers[architecture.name]
