"""EmbeddingPipeline: keeps a vector store in step with a table's text, from the table's stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambda_src.embedding_pipeline.config import DEFAULT_MAX_CONCURRENCY

from .embedding_models import EmbeddingModel
from .pipeline_trigger import create_pipeline_trigger, resolve_table
from .stream_filter import StreamFilter
from .stream_trigger import StreamTriggerOptions, check_options, key_attributes_of
from .stream_triggered_table import StreamTriggeredTable
from .vector_stores import VectorStore

__all__ = ["EmbeddingPipeline"]


class EmbeddingPipeline(Construct):
    """Embeds an attribute of each changed item and upserts the vector; deletes it when the item goes.

    INSERT upserts; MODIFY re-embeds only when the text changed and updates metadata alone when only metadata did;
    REMOVE deletes the vector. Within a batch only the last change per item is applied. The vector id is the
    item's key values in key order joined by ``#`` (the seed's ``PK#SK``). Texts are embedded in as few requests as
    the model's limits allow and written in as few as the store's allow, chunks in parallel. A missing, empty or
    non-string text is skipped with a log line and a ``SkippedRecords`` metric; a provider error fails only the
    records it concerns.

    - ``table``: an ``ITable`` with a NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``embedding``: ``EmbeddingModel.voyage(...)``, ``.titan(...)`` or ``.plugin(...)``.
    - ``vector_store``: ``VectorStore.pinecone(...)``, ``.s3_vectors(...)`` or ``.plugin(...)``.
    - ``text_attribute``: Default: body. ``metadata_attributes``: stored with the vector. Default: - none.
    - ``item_filter``: which items are embedded, e.g. ``StreamFilter.key_prefix("SK", "CONTENT#")``; other
      records never invoke the function. Default: - every item.
    - ``id_attributes``: the key attributes that make the vector id, in order. Default: the table's key schema
      (required for an imported table).
    - ``max_concurrency``: provider requests in flight at once. Default: 8.
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``; the function
      defaults to 512 MB and 120 s.

    Attributes: ``trigger``, ``function``, ``dead_letter_queue``, ``embedding``, ``vector_store``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        embedding: EmbeddingModel,
        vector_store: VectorStore,
        text_attribute: str | None = None,
        metadata_attributes: Sequence[str] | None = None,
        item_filter: StreamFilter | None = None,
        id_attributes: Sequence[str] | None = None,
        max_concurrency: int | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        super().__init__(scope, id)
        check_options(options, StreamTriggerOptions.__optional_keys__, "EmbeddingPipeline")
        stream_table = resolve_table(table)
        text_attribute = "body" if text_attribute is None else text_attribute
        metadata = list(metadata_attributes or ())
        id_names = list(id_attributes or key_attributes_of(stream_table) or ())
        if not id_names:
            raise ValueError(f"EmbeddingPipeline {self.node.path}: give id_attributes= (the key attributes, partition "
                             f"key first) for the imported table {stream_table.node.path}")  # fmt: skip
        if text_attribute in metadata:
            raise ValueError(f"EmbeddingPipeline {self.node.path}: text_attribute {text_attribute!r} cannot also be a "
                             "metadata attribute")  # fmt: skip
        self.embedding = embedding
        self.vector_store = vector_store
        embedding_binding = embedding.bind(self)
        store_binding = vector_store.bind(self, embedding.dimensions)
        self.trigger = create_pipeline_trigger(
            self,
            owner="EmbeddingPipeline",
            table=stream_table,
            handler_module="embedding_pipeline",
            environment={
                "TEXT_ATTRIBUTE": text_attribute,
                "METADATA_ATTRIBUTES": ",".join(metadata),
                "VECTOR_ID_ATTRIBUTES": ",".join(id_names),
            },
            bindings=[embedding_binding, store_binding],
            filters=[item_filter] if item_filter is not None else [],
            max_concurrency=DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency,
            options=options,
        )
        self.function = self.trigger.function
        self.dead_letter_queue = self.trigger.dead_letter_queue
