"""SigV4 checked as AWS checks it: the stub recomputes the signature of each request with botocore, from the secret it
holds for the access key, and compares. A request signed with any other secret, for another service, or altered after
signing fails as AWS fails it (403 with the error AWS sends).

Local runs sign with the dummy credentials of ``constructs_pkg.local.endpoints.DUMMY_CREDENTIALS``; those are the
keys the stubs know unless a test gives others.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

from constructs_pkg.local.endpoints import DUMMY_CREDENTIALS
from constructs_pkg.local.stubs.server import Reply, Request

__all__ = ["DEFAULT_SECRETS", "SigV4Verifier"]

DEFAULT_SECRETS = {DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]: DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


class SigV4Verifier:
    """Checks requests signed for ``service`` with a key of ``secrets`` (access key -> secret key); tokens in
    ``expired_tokens`` are refused as expired."""

    def __init__(self, service: str, secrets: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.secrets = dict(DEFAULT_SECRETS if secrets is None else secrets)
        self.expired_tokens: set[str] = set()
        self.verified = 0

    def is_signed(self, request: Request) -> bool:
        return request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")

    def refusal(self, request: Request) -> Reply | None:
        """None when ``request`` is signed correctly; else AWS's answer."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        match = _AUTHORIZATION.fullmatch(request.headers.get("authorization", "").strip())
        if match is None:
            return _forbidden("IncompleteSignatureException", "Authorization header requires a SigV4 signature")
        if match["service"] != self.service:
            return _forbidden("InvalidSignatureException", f"Credential should be scoped to service '{self.service}'")
        secret = self.secrets.get(match["key"])
        if secret is None:
            return _forbidden("UnrecognizedClientException", "The security token included in the request is invalid")
        token = request.headers.get("x-amz-security-token")
        if token is not None and token in self.expired_tokens:
            return _forbidden("ExpiredTokenException", "The security token included in the request is expired")
        signed = match["headers"].split(";")
        missing = [name for name in signed if name not in request.headers]
        if missing or "x-amz-date" not in signed:
            return _forbidden("IncompleteSignatureException", f"signed headers missing: {missing or ['x-amz-date']}")
        rebuilt = AWSRequest(
            method=request.method,
            url=f"http://{request.headers['host']}{request.path}",
            data=request.body,
            headers={name: request.headers[name] for name in signed},
        )
        rebuilt.context["timestamp"] = request.headers["x-amz-date"]
        signer = SigV4Auth(Credentials(match["key"], secret, token), self.service, match["region"])
        expected = signer.signature(signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt)
        if not hmac.compare_digest(expected, match["signature"]):
            return _forbidden(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided",
            )
        self.verified += 1
        return None


def _forbidden(error_type: str, message: str) -> Reply:
    return Reply(status=403, body={"__type": error_type, "message": message}, headers={"x-amzn-ErrorType": error_type})
