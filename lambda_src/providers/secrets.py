"""API keys from AWS Secrets Manager, read once per cold start and cached; never from the environment."""

from __future__ import annotations

import functools
import json

from .retry import FinalProviderError

__all__ = ["api_key"]


@functools.cache
def api_key(secret_id: str) -> str:
    """The key held by ``secret_id``: the secret string itself, or its ``apiKey`` field when it is JSON.

    boto3 comes with the Lambda runtime; it is imported here so that a pipeline without keys never loads it.
    The endpoint follows boto3's settings (AWS_ENDPOINT_URL_SECRETS_MANAGER in tests).
    """
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString") or ""
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
