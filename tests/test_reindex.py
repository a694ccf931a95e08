"""``python -m constructs_pkg.local reindex``, as users type it, in a subprocess: a DynamoDB Local table scanned into
the OpenSearch stub beside what the stream already wrote, which always wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dynamodb_local import DynamoDBLocal

from constructs_pkg.local.stubs.opensearch import OpenSearchStub
from lambda_src.contract import SEARCH_DELETED_FIELD
from lambda_src.search_indexer.documents import fenced_write, item_document, sequence_text, tombstone
from lambda_src.search_indexer.opensearch import BulkAction, OpenSearchIndex

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def test_reindex_fills_the_missing_documents_and_keeps_what_the_stream_wrote(
    dynamodb_local: DynamoDBLocal, monkeypatch
) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = dynamodb_local.client()
    client.create_table(
        TableName="reindex-products",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
    )
    for number in range(1200):
        client.put_item(
            TableName="reindex-products",
            Item={"PK": {"S": f"P{number:04d}"}, "name": {"S": "scanned"}, "price": {"N": str(number)}},
        )
    with OpenSearchStub() as search:
        # GIVEN what the stream wrote while the scan runs: a newer P0001, and P0002 deleted after the scan read it
        index = OpenSearchIndex(search.url, "products")
        streamed = item_document({"PK": "P0001"}, {"name": "streamed"}, (), sequence_text(10**21))
        deleted = tombstone({"PK": "P0002"}, sequence_text(10**21 + 1))
        index.bulk(
            [
                BulkAction.of(*fenced_write("products", "P0001", streamed), None),
                BulkAction.of(*fenced_write("products", "P0002", deleted), None),
            ],
            timeout=5,
        )

        # WHEN the reindex runs
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "constructs_pkg.local",
                "reindex",
                "--table",
                "reindex-products",
                "--endpoint",
                search.url,
                "--index",
                "products",
                "--mappings",
                '{"price": {"type": "double"}}',
                "--max-bulk-actions",
                "500",
                "--dynamodb-endpoint",
                dynamodb_local.endpoint_url,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **CREDENTIALS},
            timeout=120,
            check=False,
        )

        # THEN every item is indexed, in three bulk requests, and the stream's writes stand
        assert done.returncode == 0, done.stderr
        assert "1200 items scanned, 1200 written" in done.stdout
        documents = search.documents("products")
        assert len(documents) == 1200 and documents["P0003"]["name"] == "scanned"
        assert documents["P0001"]["name"] == "streamed" and documents["P0002"][SEARCH_DELETED_FIELD] is True
        assert len(search.requests_to(OpenSearchStub.BULK)) == 1 + 3


def test_the_search_demo_answers_searches_after_writes_an_update_and_a_delete() -> None:
    pytest.importorskip("aws_cdk", reason="the demo synthesizes the SearchIndex example")
    synth_search_index = (
        "from aws_cdk import App; from examples.search_index.stack import SearchIndexStack; "
        "app = App(); SearchIndexStack(app, 'SearchIndex'); app.synth()"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "constructs_pkg.local",
            "search-demo",
            "--app-command",
            f'{sys.executable} -c "{synth_search_index}"',
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    searches = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("search ")]
    assert searches == [
        'search category = lighting: 2 hits: ["Desk lamp (24.9)", "Floor lamp (89)"]',
        'search category = lighting: 1 hits: ["Desk lamp (19.9)"]',
        "search name matches 'office chair': 1 hits: [\"Office chair (129)\"]",
    ]
