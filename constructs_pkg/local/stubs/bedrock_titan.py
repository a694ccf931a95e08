"""Titan Text Embeddings V2 on Amazon Bedrock's InvokeModel on 127.0.0.1, for boto3's ``bedrock-runtime`` client.

The wire format is botocore's service model for bedrock-runtime (rest-json): ``POST /model/{modelId}/invoke`` with
``{inputText, dimensions, normalize}`` as the body and ``{embedding, inputTextTokenCount}`` as the answer
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html); errors are named by
the ``x-amzn-ErrorType`` header with ``{"message"}`` as the body. The embedding of a text is
``embedding_of(text, dimensions)``. ``fail_when(marker, *replies)`` answers the next requests whose text holds
``marker`` with ``replies``: with calls running concurrently, that is how a test picks which record meets which
fault. ``max_in_flight`` is the most requests the stub was answering at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import unquote

from constructs_pkg.local.stubs.server import Reply, Request, StubServer
from constructs_pkg.local.stubs.voyage import embedding_of

__all__ = ["MODEL_ID", "TitanStub", "titan_error"]

MODEL_ID = "amazon.titan-embed-text-v2:0"
_INVOKE = re.compile(r"^/model/(?P<model_id>[^/]+)/invoke$")
_DIMENSIONS = {256, 512, 1024}


def titan_error(status: int, error_type: str, message: str, **headers: str) -> Reply:
    # Coral services name the error in the header, with their namespace after a colon; botocore keeps the part before.
    return Reply(status=status, body={"message": message},
                 headers={"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                          **headers})  # fmt: skip


class TitanStub(StubServer):
    """Answers InvokeModel for ``MODEL_ID``, each answer after ``invoke_latency`` seconds."""

    INVOKE = _INVOKE.pattern

    def __init__(self, *, invoke_latency: float = 0.0) -> None:
        super().__init__()
        self.invoke_latency = invoke_latency
        self.max_in_flight = 0
        self._in_flight = 0
        self._counter_lock = threading.Lock()
        self._text_faults: list[tuple[str, deque[Reply]]] = []
        self.route("POST", self.INVOKE, self._invoke)

    def fail_when(self, marker: str, *replies: Reply) -> None:
        with self._counter_lock:
            self._text_faults.append((marker, deque(replies)))

    def texts(self) -> list[str]:
        """The inputText of every request that reached InvokeModel, in arrival order."""
        return [request.json()["inputText"] for request in self.requests_to(self.INVOKE)]

    def _invoke(self, request: Request) -> Reply:
        with self._counter_lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.invoke_latency)
            return self._answer_invoke(request)
        finally:
            with self._counter_lock:
                self._in_flight -= 1

    def _answer_invoke(self, request: Request) -> Reply:
        match = _INVOKE.match(request.path)
        if match is None or unquote(match["model_id"]) != MODEL_ID:
            return titan_error(400, "ValidationException", "The provided model identifier is invalid.")
        try:
            body: dict[str, Any] = json.loads(request.body)
        except ValueError:
            return titan_error(400, "ValidationException", "Malformed input request.")
        text, dimensions = body.get("inputText"), body.get("dimensions", 1024)
        if not isinstance(text, str) or not 1 <= len(text) <= 50_000:
            return titan_error(400, "ValidationException", "inputText must be 1 to 50000 characters.")
        if dimensions not in _DIMENSIONS or body.get("normalize") is not True:
            return titan_error(400, "ValidationException", "dimensions must be 256, 512 or 1024.")
        with self._counter_lock:
            for marker, replies in self._text_faults:
                if replies and marker in text:
                    return replies.popleft()
        answer = {"embedding": embedding_of(text, dimensions), "inputTextTokenCount": len(text.split())}
        return Reply(body=answer)
