"""Where a local run's AWS services answer: DynamoDB Local for DynamoDB and its Streams API, moto (or any other
server) for the rest, as one value that hands out boto3 clients and the functions' endpoint variables."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_pkg.local.dynamodb_local import REGION, free_port, local_client

__all__ = ["DUMMY_CREDENTIALS", "LocalEndpoints", "endpoint_variable", "running_moto_server"]

# Dummy credentials, so that no call a function makes can be signed for a real account.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
_DYNAMODB_SERVICES = ("dynamodb", "dynamodbstreams")


@dataclass(frozen=True)
class LocalEndpoints:
    """The URLs of a local run's services, by boto3 service name: ``dynamodb`` serves DynamoDB and DynamoDB Streams,
    ``services`` any other service by name (e.g. ``{"sqs": url}``), and ``others`` (Default: None) every service
    ``services`` does not name. ``LocalEndpoints.with_moto(dynamodb, moto)`` is the usual pair."""

    dynamodb: str
    services: Mapping[str, str] = field(default_factory=dict)
    others: str | None = None

    @classmethod
    def with_moto(cls, dynamodb: str, moto: str) -> LocalEndpoints:
        """DynamoDB Local at ``dynamodb``, and moto's server at ``moto`` for every other service."""
        return cls(dynamodb, others=moto)

    def url(self, service: str) -> str | None:
        """Where ``service`` (a boto3 service name) answers; None: nowhere in this run."""
        if service in _DYNAMODB_SERVICES:
            return self.dynamodb
        return self.services.get(service, self.others)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` at its URL, in us-east-1 with dummy credentials (one per service and URL).

        Raises LookupError when no URL serves ``service``.
        """
        url = self.url(service)
        if url is None:
            raise LookupError(f"no local endpoint serves {service}")
        return local_client(url, service)

    def function_environment(self, services: Iterable[str]) -> dict[str, str]:
        """What a function needs to call these endpoints: the region, dummy credentials, and boto3's endpoint
        variable for DynamoDB, DynamoDB Streams and each of ``services`` that has a URL here.

        Only named services get a variable, never the global ``AWS_ENDPOINT_URL``: a provider called for real
        (Bedrock, S3 Vectors) must still reach AWS.
        """
        variables = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **DUMMY_CREDENTIALS}
        for service in (*_DYNAMODB_SERVICES, *services):
            url = self.url(service)
            if url is not None:
                variables[endpoint_variable(service)] = url
        return variables


def endpoint_variable(service: str) -> str:
    """boto3's environment variable for ``service``'s endpoint, e.g. AWS_ENDPOINT_URL_SECRETS_MANAGER for
    ``secretsmanager``: https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html"""
    from botocore import utils

    # botocore's own name for the service id, read without loading the service's model (as its config provider does).
    name = utils.SERVICE_NAME_ALIASES.get(service, service)
    service_id = utils.CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES.get(name, name)
    return "AWS_ENDPOINT_URL_" + service_id.replace("-", "_").upper()


@contextlib.contextmanager
def running_moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port (SQS, SNS and the rest of its services); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    # Its request log would drown the runner's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
