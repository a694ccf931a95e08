"""EmbeddingPipeline: keeps a vector store in step with a table's text, from the table's stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Unpack

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3vectors as s3vectors
from constructs import Construct

from lambda_src.contract import DEFAULT_EMBEDDING_MAX_CONCURRENCY, DEFAULT_TEXT_ATTRIBUTE, EmbeddingEnv, PipelineEnv

from .embedding_models import EmbeddingModel
from .limits import documented
from .stream_filter import StreamFilter
from .stream_pipeline import StreamPipeline
from .stream_trigger import StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable
from .table_facts import key_attributes_of
from .vector_stores import VectorStore

__all__ = ["EmbeddingPipeline"]


@documented
class EmbeddingPipeline(StreamPipeline):
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
    - ``text_attribute``: Default: $DEFAULT_TEXT_ATTRIBUTE.
    - ``metadata_attributes``: stored with the vector. Default: - none.
    - ``item_filter``: which items are embedded, e.g. ``StreamFilter.key_prefix("SK", "CONTENT#")``; other
      records never invoke the function. Default: - every item.
    - ``id_attributes``: the key attributes that make the vector id, in order; required for an imported table.
      Default: - the table's key schema.
    - ``max_concurrency``: provider requests in flight at once. Default: $DEFAULT_EMBEDDING_MAX_CONCURRENCY.
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, as
      ``StreamPipeline`` takes them.

    Attributes: those of ``StreamPipeline``, and ``embedding``, ``vector_store``, ``vector_bucket`` and
    ``vector_index`` (the S3 Vectors bucket and index it created, else None).
    """

    HANDLER: ClassVar[str] = "lambda_src.embedding_pipeline.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,)
    STREAM_VIEW_REASON = "the pipeline reads both images to tell what changed"

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
        super().__init__(scope, id, table=table, item_filter=item_filter, **options)
        text_attribute = DEFAULT_TEXT_ATTRIBUTE if text_attribute is None else text_attribute
        metadata = list(metadata_attributes or ())
        id_names = list(id_attributes or key_attributes_of(self.table) or ())
        max_concurrency = DEFAULT_EMBEDDING_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        if not id_names:
            self.refuse([f"give id_attributes= (the key attributes, partition key first) for the imported table "
                         f"{self.table.node.path}"])  # fmt: skip
        problems = self.max_concurrency_problems(max_concurrency)
        if text_attribute in metadata:
            problems.append(f"text_attribute {text_attribute!r} cannot also be a metadata attribute")
        self.refuse(problems)
        self.embedding = embedding
        self.vector_store = vector_store
        embedding_binding = embedding.bind(self)
        store_binding = vector_store.bind(self, embedding.dimensions)
        self.vector_bucket: s3vectors.CfnVectorBucket | None = store_binding.resources.get("vector_bucket")  # type: ignore[assignment]
        self.vector_index: s3vectors.CfnIndex | None = store_binding.resources.get("vector_index")  # type: ignore[assignment]
        self.attach_handler(
            environment={
                EmbeddingEnv.TEXT_ATTRIBUTE: text_attribute,
                EmbeddingEnv.METADATA_ATTRIBUTES: ",".join(metadata),
                EmbeddingEnv.VECTOR_ID_ATTRIBUTES: ",".join(id_names),
                PipelineEnv.MAX_CONCURRENCY: str(max_concurrency),
            },
            bindings=[embedding_binding, store_binding],
        )
