"""Lambda's Python runtime, in this process: a function's handler loaded once and called with its own environment.

Each ``LocalFunction`` imports its code and layers in a module sandbox of its own (``constructs_pkg.local.sandbox``)
and sets its environment variables around each call, so several functions share one process as if each had its own
Lambda sandbox: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_pkg.local.assembly import FunctionSpec
from constructs_pkg.local.dynamodb_local import REGION
from constructs_pkg.local.sandbox import ModuleSandbox

__all__ = [
    "ACCOUNT_ID",
    "FunctionCall",
    "FunctionTimedOut",
    "LambdaContext",
    "LocalFunction",
    "runtime_environment",
]

ACCOUNT_ID = "000000000000"


@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers use; the remaining time counts down from the function's timeout:
    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class FunctionCall:
    """One call of a function's handler, as recorded when its ``LocalFunction`` is given a recorder: the
    ``function`` (its logical id), the ``request_id``, the ``event`` as the handler got it (a copy made before the
    call), and what it returned (``response``) or raised (``error``, None when it returned)."""

    function: str
    request_id: str
    event: dict[str, Any]
    response: Any = None
    error: BaseException | None = None


class FunctionTimedOut(Exception):
    """A handler ran past its function's timeout: Lambda would have stopped it, and counts that as a function error."""


def runtime_environment(spec: FunctionSpec) -> dict[str, str]:
    """What the Lambda runtime itself sets for ``spec``:
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime"""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "_HANDLER": spec.handler,
    }


class LocalFunction:
    """A function's handler, loaded on its first call (its cold start) in a module sandbox of its own, and called with
    ``environment`` set (the variables Lambda would give it; the process's own values come back after each call).
    ``recorder`` (Default: None) is handed a ``FunctionCall`` after each call: the pytest plugin's record of what
    each function was invoked with and returned."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str],
        *,
        recorder: Callable[[FunctionCall], None] | None = None,
    ) -> None:
        self.spec = spec
        self.recorder = recorder
        self.arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.name}"
        self._environment = dict(environment)
        self._handler: Callable[[Any, Any], Any] | None = None
        self._inline_dir: tempfile.TemporaryDirectory[str] | None = None
        self._sandbox = ModuleSandbox([self._code_dir(), *self.spec.layer_dirs])

    def invoke(self, event: dict[str, Any]) -> tuple[str, Any]:
        """Call the handler with ``event``, which becomes the handler's own (as Lambda's parsed payload is: nothing
        else may hold any part of it); returns the request id and the response, or raises what the handler raised
        (FunctionTimedOut when it ran past the timeout)."""
        request_id = str(uuid.uuid4())
        if self.recorder is None:
            return request_id, self._call(request_id, event)
        given = copy.deepcopy(event)
        try:
            response = self._call(request_id, event)
        except Exception as error:
            self.recorder(FunctionCall(self.spec.logical_id, request_id, given, error=error))
            raise
        self.recorder(FunctionCall(self.spec.logical_id, request_id, given, response=copy.deepcopy(response)))
        return request_id, response

    def _call(self, request_id: str, event: dict[str, Any]) -> Any:
        with self._applied(), self._sandbox.entered():
            handler = self._handler or self._load()
            context = LambdaContext(
                function_name=self.spec.name,
                invoked_function_arn=self.arn,
                memory_limit_in_mb=self.spec.memory_mb,
                aws_request_id=request_id,
                deadline=time.monotonic() + self.spec.timeout_seconds,
            )
            try:
                response = handler(event, context)
            except Exception:
                self._check_deadline(context)
                raise
            self._check_deadline(context)
            return response

    def _check_deadline(self, context: LambdaContext) -> None:
        # Lambda stops a call at the timeout and counts it as a function error; an in-process call cannot be stopped,
        # so one that ran past it ends as Lambda's would have, only later (its side effects stay).
        if time.monotonic() > context.deadline:
            raise FunctionTimedOut(f"Task timed out after {self.spec.timeout_seconds:.2f} seconds")

    def _load(self) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        self._handler = getattr(importlib.import_module(module_name), attribute)
        return self._handler

    def _code_dir(self) -> Path:
        if self.spec.code_dir is not None:
            return self.spec.code_dir.resolve()
        # Lambda saves inline Python code as index.py:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html
        self._inline_dir = tempfile.TemporaryDirectory(prefix="inline-code.")
        code_dir = Path(self._inline_dir.name).resolve()
        (code_dir / "index.py").write_text(self.spec.inline_code or "")
        return code_dir

    @contextlib.contextmanager
    def _applied(self) -> Iterator[None]:
        saved = {name: os.environ.get(name) for name in self._environment}
        os.environ.update(self._environment)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
