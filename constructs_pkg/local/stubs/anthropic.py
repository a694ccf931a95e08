"""The Anthropic Messages API on 127.0.0.1, for the real ``anthropic`` SDK pointed at it by base URL.

Answers ``POST /v1/messages`` as https://docs.anthropic.com/en/api/messages does (as server-sent events when the body
says ``"stream": true``), errors as https://docs.anthropic.com/en/api/errors shapes them (with a ``request-id``
header on every answer). The summary of a prompt is ``summary_of(prompt)``, so a test can tell which text a summary
came from. ``fail_when(marker, *replies)`` answers the next requests whose prompt holds ``marker`` with ``replies``:
with requests running concurrently, that is how a test picks which record meets which fault.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from typing import Any

from constructs_pkg.local.stubs.server import Reply, Request, StubServer

__all__ = [
    "API_KEY",
    "AnthropicStub",
    "PromptFaults",
    "answer_tokens",
    "anthropic_error",
    "message_body",
    "message_stream",
    "prompt_of",
    "summary_of",
]

API_KEY = "sk-ant-stub-key"
SPEND_LIMIT_CODE = "enforced_spend_limit_reached"
_request_ids = itertools.count(1)


def summary_of(prompt: str) -> str:
    return f"Summary: {prompt}"


def message_body(model: str, prompt: str) -> dict[str, Any]:
    """A Messages API answer: one text block summarizing ``prompt``."""
    text = summary_of(prompt)
    return {
        "id": f"msg_stub{next(_request_ids):08d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": len(prompt.split()), "output_tokens": len(text.split())},
    }


def answer_tokens(prompt: str) -> list[str]:
    """The tokens a streamed answer to ``prompt`` arrives in: ``summary_of(prompt)`` word by word, spaces kept."""
    words = summary_of(prompt).split(" ")
    return [word if position == 0 else " " + word for position, word in enumerate(words)]


def message_stream(model: str, prompt: str) -> bytes:
    """A streamed Messages answer as server-sent events, one ``text_delta`` per token:
    https://docs.anthropic.com/en/docs/build-with-claude/streaming"""
    message = {**message_body(model, prompt), "content": [], "stop_reason": None}
    tokens = answer_tokens(prompt)
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}},
        )
        for token in tokens
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(tokens)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def anthropic_error(
    status: int, error_type: str, message: str, *, error_code: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    request_id = f"req_stub{next(_request_ids):08d}"
    return Reply(
        status=status,
        body={"type": "error", "error": error, "request_id": request_id},
        headers={"request-id": request_id, **(headers or {})},
    )


class PromptFaults:
    """Scripted replies for the requests whose prompt holds a marker, taken in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[str, deque[Reply]]] = []

    def add(self, marker: str, replies: tuple[Reply, ...]) -> None:
        with self._lock:
            self._faults.append((marker, deque(replies)))

    def take(self, prompt: str) -> Reply | None:
        with self._lock:
            for marker, replies in self._faults:
                if replies and marker in prompt:
                    return replies.popleft()
        return None


class AnthropicStub(StubServer):
    """Answers ``POST /v1/messages`` for ``API_KEY``; point the SDK at ``url``."""

    MESSAGES = r"^/v1/messages$"

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self._prompt_faults = PromptFaults()
        self._arrivals: list[tuple[float, str]] = []
        self.route("POST", self.MESSAGES, self._messages)

    def fail_when(self, marker: str, *replies: Reply) -> None:
        self._prompt_faults.add(marker, replies)

    def reset(self) -> None:
        """Forget every request and scripted fault: one server can then serve many tests."""
        self.requests.clear()
        self._arrivals.clear()
        self._prompt_faults = PromptFaults()

    def arrival_times(self, marker: str) -> list[float]:
        """When (``time.monotonic()``) each valid request whose prompt holds ``marker`` arrived."""
        return [arrived for arrived, prompt in self._arrivals if marker in prompt]

    def prompts(self) -> list[str]:
        """The prompt of every request made to /v1/messages, in arrival order."""
        return [prompt_of(request.json()) for request in self.requests_to(self.MESSAGES)]

    # The errors the API documents, as it sends them.
    @staticmethod
    def rate_limited(*, retry_after: str | None = None, retry_after_ms: str | None = None) -> Reply:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        return anthropic_error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit",
                               headers=headers)  # fmt: skip

    @staticmethod
    def spend_limit() -> Reply:
        return anthropic_error(429, "rate_limit_error", "Your workspace has reached its spend limit",
                               error_code=SPEND_LIMIT_CODE)  # fmt: skip

    @staticmethod
    def server_error() -> Reply:
        return anthropic_error(500, "api_error", "An unexpected error has occurred internal to Anthropic's systems")

    @staticmethod
    def overloaded() -> Reply:
        return anthropic_error(529, "overloaded_error", "Overloaded")

    @staticmethod
    def unauthorized() -> Reply:
        return anthropic_error(401, "authentication_error", "invalid x-api-key")

    @staticmethod
    def malformed() -> Reply:
        return Reply(status=200, raw=b'{"id": "msg_cut', headers={"request-id": "req_malformed"})

    @staticmethod
    def delayed(seconds: float) -> Reply:
        """An answer sent after ``seconds``: longer than the client's timeout, it never arrives."""
        return Reply(body=message_body("late", "late"), delay=seconds, headers={"request-id": "req_late"})

    def _messages(self, request: Request) -> Reply:
        # The SDK sends the key as x-api-key or, from 2.x, as a bearer token: the API takes either.
        if API_KEY not in (
            request.headers.get("x-api-key"),
            request.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return self.unauthorized()
        if "anthropic-version" not in request.headers:
            return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        try:
            body = request.json()
            prompt = prompt_of(body)
        except (ValueError, KeyError, IndexError, TypeError):
            return anthropic_error(400, "invalid_request_error", "messages: a user message with text is required")
        if not isinstance(body.get("model"), str) or not isinstance(body.get("max_tokens"), int):
            return anthropic_error(400, "invalid_request_error", "model and max_tokens are required")
        self._arrivals.append((time.monotonic(), prompt))
        fault = self._prompt_faults.take(prompt)
        if fault is not None:
            return fault
        if body.get("stream") is True:
            headers = {"request-id": f"req_ok{next(_request_ids)}", "Content-Type": "text/event-stream"}
            return Reply(raw=message_stream(body["model"], prompt), headers=headers)
        return Reply(body=message_body(body["model"], prompt), headers={"request-id": f"req_ok{next(_request_ids)}"})


def prompt_of(body: dict[str, Any]) -> str:
    """The text of the last user message, given as a string or as text blocks."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(block["text"] for block in content if block["type"] == "text")
