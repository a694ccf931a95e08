"""What a local run stands in for the RealtimeFeed's Events API and the SearchIndexer's OpenSearch: the loopback stubs
of ``constructs_pkg.local.stubs``, started for an app whose functions publish or index, and the resource kinds that
make the functions' references (``Fn::GetAtt Api.Dns.Http``, ``Domain.DomainEndpoint``, ...) resolve to them.

``local_providers`` starts them along with the AI providers' stubs, so ``run``, ``demo`` and ``LocalRunner`` tests get
them with no other step. Each stub checks the SigV4 signatures of the dummy credentials the functions run with.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.resource_kinds import LocalResource, ResourceKind, ResourceRequest, register_resource_kind
from constructs_pkg.local.stubs.appsync_events import AppSyncEventsStub
from constructs_pkg.local.stubs.opensearch import OpenSearchStub
from constructs_pkg.local.stubs.server import StubServer
from lambda_src.contract import FeedEnv, SearchEnv, SearchService

__all__ = ["FeedAndSearchStubs", "feed_and_search_stubs", "running"]

_logger = logging.getLogger(__name__)
_API = "AWS::AppSync::Api"
_API_KEY = "AWS::AppSync::ApiKey"
_DOMAIN = "AWS::OpenSearchService::Domain"
_COLLECTION = "AWS::OpenSearchServerless::Collection"
_ACCOUNT = "000000000000"


@dataclass
class FeedAndSearchStubs:
    """The stubs running for an app: ``events`` (one Events API), ``domain`` and ``serverless`` (OpenSearch)."""

    events: AppSyncEventsStub | None = None
    domain: OpenSearchStub | None = None
    serverless: OpenSearchStub | None = None
    by_provider: dict[str, StubServer] = field(default_factory=dict)


_running = FeedAndSearchStubs()


def running() -> FeedAndSearchStubs:
    """The stubs of the run in progress (none outside ``feed_and_search_stubs``)."""
    return _running


@contextlib.contextmanager
def feed_and_search_stubs(app: LocalApp) -> Iterator[FeedAndSearchStubs]:
    """Start the stubs ``app``'s functions need (by the variables the constructs set), until the block ends."""
    global _running
    variables = {name for function in app.functions.values() for name in function.environment}
    services = {
        str(function.environment.get(SearchEnv.SERVICE, SearchService.DOMAIN))
        for function in app.functions.values()
        if SearchEnv.ENDPOINT in function.environment
    }
    stubs = FeedAndSearchStubs()
    with contextlib.ExitStack() as stack:
        if FeedEnv.HTTP_DOMAIN in variables:
            stubs.events = stack.enter_context(AppSyncEventsStub())
            stubs.by_provider["appsync-events"] = stubs.events
        if SearchService.DOMAIN in services:
            stubs.domain = stack.enter_context(OpenSearchStub(service=str(SearchService.DOMAIN)))
            stubs.by_provider["opensearch"] = stubs.domain
        if SearchService.SERVERLESS in services:
            stubs.serverless = stack.enter_context(OpenSearchStub(service=str(SearchService.SERVERLESS)))
            stubs.by_provider["opensearch-serverless"] = stubs.serverless
        previous, _running = _running, stubs
        try:
            yield stubs
        finally:
            _running = previous


def _stub_or_warn(stub: StubServer | None, request: ResourceRequest, kind: str) -> StubServer | None:
    if stub is None:
        _logger.warning("%s %s: no local stub is running (start one with feed_and_search_stubs)", kind, request.name)
    return stub


def _api(request: ResourceRequest) -> LocalResource:
    stub = _stub_or_warn(_running.events, request, _API)
    api_id = "local" + hashlib.sha256(request.name.encode()).hexdigest()[:20]
    arn = f"arn:aws:appsync:us-east-1:{_ACCOUNT}:apis/{api_id}"
    http = stub.url if stub is not None else "http://127.0.0.1:9"
    realtime = _running.events.realtime_url if _running.events is not None else "ws://127.0.0.1:9/event/realtime"
    attributes = {"ApiId": api_id, "ApiArn": arn, "Dns.Http": http, "Dns.Realtime": realtime}
    return LocalResource(request.name, arn, attributes)


def _api_key(request: ResourceRequest) -> LocalResource:
    stub = _stub_or_warn(_running.events, request, _API_KEY)
    key = stub.api_key if isinstance(stub, AppSyncEventsStub) else "da2-nostub"
    return LocalResource(request.name, key, {"ApiKey": key, "ApiKeyId": key})


def _domain(request: ResourceRequest) -> LocalResource:
    stub = _stub_or_warn(_running.domain, request, _DOMAIN)
    endpoint = stub.url if stub is not None else "http://127.0.0.1:9"
    arn = f"arn:aws:es:us-east-1:{_ACCOUNT}:domain/{request.name}"
    return LocalResource(request.name, request.name, {"DomainEndpoint": endpoint, "Arn": arn, "DomainArn": arn})


def _collection(request: ResourceRequest) -> LocalResource:
    stub = _stub_or_warn(_running.serverless, request, _COLLECTION)
    endpoint = stub.url if stub is not None else "http://127.0.0.1:9"
    arn = f"arn:aws:aoss:us-east-1:{_ACCOUNT}:collection/{request.name}"
    return LocalResource(request.name, request.name, {"CollectionEndpoint": endpoint, "Arn": arn, "Id": request.name})


# The stubs answer for the services; the kinds' "service" only has to have an endpoint in the run (moto's serves all).
register_resource_kind(ResourceKind(_API, "appsync", _api, "Name"))
register_resource_kind(ResourceKind(_API_KEY, "appsync", _api_key))
register_resource_kind(ResourceKind(_DOMAIN, "opensearch", _domain, "DomainName"))
register_resource_kind(ResourceKind(_COLLECTION, "opensearchserverless", _collection, "Name"))
