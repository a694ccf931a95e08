"""One Amazon Bedrock runtime endpoint on 127.0.0.1 for several model stubs: InvokeModel goes to the model's own stub.

A function reaches Bedrock through one endpoint (boto3's ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``) whichever models it
calls, so a stack that embeds with Titan and summarizes with Claude needs one address for both. ``BedrockRouter``
forwards ``POST /model/{modelId}/invoke`` over HTTP to the base URL registered for that model id (answers, errors and
scripted faults stay the model stub's own, as does its request log) and answers an unknown model id as Bedrock does.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from constructs_pkg.local.stubs.bedrock_claude import bedrock_error
from constructs_pkg.local.stubs.server import Reply, Request, StubServer

__all__ = ["BedrockRouter"]

_INVOKE = re.compile(r"^/model/(?P<model_id>[^/]+)/invoke$")
# Hop-by-hop and framing headers: http.client sets its own.
_NOT_FORWARDED = frozenset({"host", "content-length", "connection", "transfer-encoding"})


class BedrockRouter(StubServer):
    """Forwards InvokeModel for each model id of ``model_urls`` to that base URL."""

    def __init__(self, model_urls: Mapping[str, str]) -> None:
        super().__init__()
        self.model_urls = dict(model_urls)
        self.route("POST", _INVOKE.pattern, self._forward)

    def _forward(self, request: Request) -> Reply:
        match = _INVOKE.match(request.path)
        url = self.model_urls.get(unquote(match["model_id"])) if match else None
        if url is None:
            return bedrock_error(400, "ValidationException", "The provided model identifier is invalid.")
        target = urlsplit(url)
        connection = http.client.HTTPConnection(target.netloc, timeout=60)
        try:
            headers = {name: value for name, value in request.headers.items() if name not in _NOT_FORWARDED}
            connection.request(request.method, target.path.rstrip("/") + request.path, request.body, headers)
            answer = connection.getresponse()
            body = answer.read()
            headers = {name: value for name, value in answer.getheaders() if name.lower().startswith("x-amzn-")}
            return Reply(status=answer.status, headers=headers, raw=body)
        finally:
            connection.close()
