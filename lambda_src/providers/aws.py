"""``AwsClient``: boto3 calls with a timeout per call and classified errors, for every AWS service the handlers use.

boto3 comes with the Lambda runtime; it is imported on first use, so that a function configured for providers outside
AWS never loads it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from .http import parse_retry_after
from .retry import FinalProviderError, ProviderError, RetryableProviderError, classify_status

__all__ = ["BEDROCK_RETRYABLE_CODES", "AwsClient"]

_T = TypeVar("_T")

# InvokeModel's transient errors (botocore's bedrock-runtime model gives them 408, 429, 500 and 503); every other one
# (validation, access denied, not found, service quota, a model error) recurs on every attempt:
# https://docs.aws.amazon.com/bedrock/latest/userguide/troubleshooting-api-error-codes.html
BEDROCK_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "InternalServerException",
        "ModelNotReadyException",
    }
)
# Establishing a connection within the Region takes milliseconds; a slow one is better retried on a fresh one.
_MAX_CONNECT_SECONDS = 1.0


class AwsClient:
    """Calls one AWS service with boto3, within a timeout given per call, and raises classified ``ProviderError``s.

    botocore takes timeouts per client, not per call, so there is one client per whole number of seconds, made on
    first use: in steady state, when the timeout is the caller's ceiling, that is one client. botocore's own retries
    are off, since ``call_with_retries`` is the one retry loop. The endpoint follows boto3's settings
    (AWS_ENDPOINT_URL_<SERVICE> in tests). Errors: ``retryable_codes``, 408, 409, 429 and 5xx, timeouts and
    connection failures are retryable; any other is final, with the AWS error code as its ``code``.
    """

    def __init__(self, service_name: str, *, retryable_codes: Collection[str], max_connections: int) -> None:
        self.service_name = service_name
        self._retryable_codes = frozenset(retryable_codes)
        self._max_connections = max_connections
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def call(self, timeout: float, operation: Callable[[Any], _T]) -> _T:
        """``operation(client)`` with a client whose timeouts add up to at most ``timeout`` (at least 1 s)."""
        from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
        from botocore.exceptions import ConnectionError as BotocoreConnectionError

        try:
            return operation(self._client(max(1, math.floor(timeout))))
        except ClientError as error:
            raise self._classify(error) from error
        except (BotocoreConnectionError, HTTPClientError, IncompleteReadError) as error:
            raise RetryableProviderError(self.service_name, f"request failed: {error.__class__.__name__}") from error

    def reset(self) -> None:
        """Drop the clients made so far: the next call makes one from boto3's settings as they are then."""
        with self._lock:
            self._clients.clear()
            self._session = None

    def _client(self, seconds: int) -> Any:
        with self._lock:
            client = self._clients.get(seconds)
            if client is None:
                import boto3
                from botocore.config import Config

                # A boto3 session is not thread-safe: this one is only used under the lock.
                if self._session is None:
                    self._session = boto3.session.Session()
                if self.service_name not in self._session.get_available_services():
                    # A runtime's boto3 predates services launched after it (s3vectors needs boto3 1.39.9 or later).
                    raise FinalProviderError(
                        self.service_name,
                        f"this runtime's boto3 {boto3.__version__} has no {self.service_name} client: add a newer "
                        "boto3 to the function in a layer",
                    )
                connect = min(_MAX_CONNECT_SECONDS, seconds / 2)
                client = self._clients[seconds] = self._session.client(
                    self.service_name,
                    config=Config(
                        connect_timeout=connect,
                        read_timeout=seconds - connect,
                        # One attempt in all: "max_attempts" would count retries, so max_attempts=1 still retries once:
                        # https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
                        retries={"total_max_attempts": 1},
                        # One pooled connection per concurrent call; urllib3 discards the rest (default 10).
                        max_pool_connections=self._max_connections,
                    ),
                )
            return client

    def _classify(self, error: Any) -> ProviderError:
        details = error.response.get("Error", {})
        metadata = error.response.get("ResponseMetadata", {})
        code = details.get("Code")
        status = metadata.get("HTTPStatusCode") or 0
        message = str(details.get("Message") or "no message")[:500]
        retry_after = parse_retry_after({k.lower(): v for k, v in metadata.get("HTTPHeaders", {}).items()})
        if code in self._retryable_codes:
            return RetryableProviderError(self.service_name, message, status=status, code=code, retry_after=retry_after)
        return classify_status(self.service_name, status, message, code=code, retry_after=retry_after)
