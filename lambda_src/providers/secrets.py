"""API keys from AWS Secrets Manager, read once per cold start and cached; never from the environment."""

from __future__ import annotations

import functools
import json

from .aws import AwsClient
from .retry import FinalProviderError

__all__ = ["api_key", "forget_keys"]

# Secrets Manager's transient errors; the rest (access denied, no such secret, a KMS refusal) need a person:
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html#API_GetSecretValue_Errors
_RETRYABLE_CODES = frozenset({"ThrottlingException", "InternalServiceError"})
_READ_SECONDS = 5
_secrets_manager = AwsClient("secretsmanager", retryable_codes=_RETRYABLE_CODES, max_connections=2)


@functools.cache
def api_key(secret_id: str) -> str:
    """The key held by ``secret_id``: the secret string itself, or its ``apiKey`` field when it is JSON.

    Raises a classified ``ProviderError`` (a throttle is retryable, a missing secret final); only a success is
    cached. The endpoint follows boto3's settings (AWS_ENDPOINT_URL_SECRETS_MANAGER in tests).
    """
    answer = _secrets_manager.call(_READ_SECONDS, lambda client: client.get_secret_value(SecretId=secret_id))
    value = answer.get("SecretString") or ""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    key = parsed.get("apiKey") if isinstance(parsed, dict) else parsed
    if not isinstance(key, str) or not key.strip():
        raise FinalProviderError(
            "secretsmanager", f'secret {secret_id} holds no API key: put the key, or {{"apiKey": "..."}}, in it'
        )
    return key.strip()


def forget_keys() -> None:
    """Forget the cached keys and the Secrets Manager client: the next ``api_key`` reads the secret again, at the
    endpoint boto3's settings then name (a test that moves it between servers calls this)."""
    api_key.cache_clear()
    _secrets_manager.reset()
