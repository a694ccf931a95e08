"""The Lambda layer that carries ``lambda_src`` (the shared stream runtime) to every function the library creates."""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

import lambda_src

__all__ = ["LAYER_RUNTIMES", "StreamRuntimeLayer"]

# The runtime needs Python 3.11 (enum.StrEnum); it is pure Python, so any architecture runs it.
LAYER_RUNTIMES = (lambda_.Runtime.PYTHON_3_11, lambda_.Runtime.PYTHON_3_12, lambda_.Runtime.PYTHON_3_13,
                  lambda_.Runtime.PYTHON_3_14)  # fmt: skip
_SOURCE = Path(lambda_src.__file__).parent
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
_layers: weakref.WeakKeyDictionary[Stack, StreamRuntimeLayer] = weakref.WeakKeyDictionary()


@jsii.implements(ILocalBundling)
class _CopyIntoLayerLayout:
    """Copies the package to ``python/lambda_src`` (where Lambda's Python runtimes look in a layer); no Docker."""

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        shutil.copytree(_SOURCE, Path(output_dir) / "python" / _SOURCE.name, ignore=_IGNORED, dirs_exist_ok=True)
        return True


class StreamRuntimeLayer(lambda_.LayerVersion):
    """One layer per stack holding ``lambda_src``, so handlers can ``import lambda_src.stream_runtime``.

    Use ``StreamRuntimeLayer.of(scope)``; the library attaches it to every function it creates.
    """

    _ID = "DynamoStreamRuntimeLayer"

    @classmethod
    def of(cls, scope: Construct) -> StreamRuntimeLayer:
        """The stack's layer, created on first use."""
        stack = Stack.of(scope)
        # Kept in Python: finding the child through jsii would cost round trips on every function created.
        if stack not in _layers:
            _layers[stack] = cls(stack, cls._ID)
        return _layers[stack]

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(
            scope,
            id,
            code=lambda_.Code.from_asset(
                str(_SOURCE),
                exclude=["**/__pycache__", "**/*.pyc"],
                bundling=BundlingOptions(
                    # Never pulled: local bundling always succeeds, so synthesis needs no Docker.
                    image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
                    # jsii hands the options over as one positional struct, not as the Protocol's keywords.
                    local=_CopyIntoLayerLayout(),  # type: ignore[arg-type]
                ),
            ),
            compatible_runtimes=list(LAYER_RUNTIMES),
            description="lambda_src: the DynamoDB stream runtime shared by dynamodb-stream-constructs handlers",
        )
