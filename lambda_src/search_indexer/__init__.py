"""SearchIndexer's runtime: the Lambda handler ``lambda_src.search_indexer.app.handler``, its configuration, the
documents and version fence it writes, and its OpenSearch client.

The infrastructure is ``constructs_pkg.SearchIndexer``; it sets the environment ``SearchIndexerConfig`` reads.
"""

from __future__ import annotations

from .config import SearchIndexerConfig
from .documents import document_id, fenced_write, item_document, search_filter, tombstone
from .opensearch import BulkAction, OpenSearchIndex

__all__ = [
    "BulkAction",
    "OpenSearchIndex",
    "SearchIndexerConfig",
    "document_id",
    "fenced_write",
    "item_document",
    "search_filter",
    "tombstone",
]
