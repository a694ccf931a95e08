"""Claude on Amazon Bedrock's InvokeModel on 127.0.0.1, for boto3's ``bedrock-runtime`` client given its URL.

The wire format is botocore's service model for bedrock-runtime 2023-09-30 (rest-json): ``POST /model/{modelId}/invoke``
with the Anthropic request body (``anthropic_version: bedrock-2023-05-31``, no ``model`` field), the Messages API answer
as the body, and errors named by the ``x-amzn-ErrorType`` header with ``{"message"}`` as the body:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
``fail_when(marker, *replies)`` works as on ``AnthropicStub``.
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import unquote

from constructs_pkg.local.stubs.anthropic import PromptFaults, message_body, prompt_of
from constructs_pkg.local.stubs.server import Reply, Request, StubServer

__all__ = ["BEDROCK_ANTHROPIC_VERSION", "BedrockClaudeStub", "bedrock_error"]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
_INVOKE = re.compile(r"^/model/(?P<model_id>[^/]+)/invoke$")
_request_ids = itertools.count(1)


def bedrock_error(status: int, error_type: str, message: str) -> Reply:
    # Coral services name the error in the header, with their namespace after a colon; botocore keeps the part before.
    return Reply(
        status=status,
        body={"message": message},
        headers={
            "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": f"bedrock-stub-{next(_request_ids)}",
        },
    )


class BedrockClaudeStub(StubServer):
    """Answers InvokeModel for any model id; ``model_ids()`` lists the ids requested, decoded."""

    INVOKE = _INVOKE.pattern

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self._prompt_faults = PromptFaults()
        self.route("POST", self.INVOKE, self._invoke)

    def fail_when(self, marker: str, *replies: Reply) -> None:
        self._prompt_faults.add(marker, replies)

    def reset(self) -> None:
        """Forget every request and scripted fault: one server can then serve many tests."""
        self.requests.clear()
        self._prompt_faults = PromptFaults()

    def prompts(self) -> list[str]:
        return [prompt_of(request.json()) for request in self.requests_to(self.INVOKE)]

    def model_ids(self) -> list[str]:
        return [_model_id(request) for request in self.requests_to(self.INVOKE)]

    # The errors botocore's model lists for InvokeModel, with their HTTP statuses.
    @staticmethod
    def throttled() -> Reply:
        return bedrock_error(429, "ThrottlingException", "Too many requests, please wait before trying again.")

    @staticmethod
    def internal_error() -> Reply:
        return bedrock_error(500, "InternalServerException", "The server encountered an internal error.")

    @staticmethod
    def unavailable() -> Reply:
        return bedrock_error(503, "ServiceUnavailableException", "Bedrock is unable to process your request.")

    @staticmethod
    def model_timeout() -> Reply:
        return bedrock_error(408, "ModelTimeoutException", "Model has timed out in processing the request.")

    @staticmethod
    def access_denied() -> Reply:
        return bedrock_error(
            403, "AccessDeniedException", "You don't have access to the model with the specified model ID."
        )

    @staticmethod
    def validation_error() -> Reply:
        return bedrock_error(400, "ValidationException", "max_tokens: Input should be a valid integer")

    @staticmethod
    def malformed() -> Reply:
        return Reply(status=200, raw=b'{"id": "msg_cut', headers={"x-amzn-RequestId": "bedrock-stub-malformed"})

    @staticmethod
    def delayed(seconds: float) -> Reply:
        """An answer sent after ``seconds``: longer than the client's read timeout, it never arrives."""
        return Reply(body=message_body("late", "late"), delay=seconds)

    def _invoke(self, request: Request) -> Reply:
        if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return bedrock_error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        try:
            body: dict[str, Any] = request.json()
            prompt = prompt_of(body)
        except (ValueError, KeyError, IndexError, TypeError):
            return self.validation_error()
        # Bedrock takes the model from the path and refuses the Messages API's own `model` field.
        if body.get("anthropic_version") != BEDROCK_ANTHROPIC_VERSION or "model" in body:
            return bedrock_error(
                400, "ValidationException", "Malformed input request, please reformat your input and try again."
            )
        if not isinstance(body.get("max_tokens"), int):
            return self.validation_error()
        fault = self._prompt_faults.take(prompt)
        if fault is not None:
            return fault
        answer = message_body(_model_id(request), prompt)
        return Reply(
            body=answer,
            headers={
                "x-amzn-RequestId": f"bedrock-stub-{next(_request_ids)}",
                "X-Amzn-Bedrock-Input-Token-Count": str(answer["usage"]["input_tokens"]),
                "X-Amzn-Bedrock-Output-Token-Count": str(answer["usage"]["output_tokens"]),
            },
        )


def _model_id(request: Request) -> str:
    match = _INVOKE.match(request.path)
    assert match is not None
    return unquote(match["model_id"])
