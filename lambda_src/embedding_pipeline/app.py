"""The EmbeddingPipeline's Lambda handler: ``lambda_src.embedding_pipeline.app.handler``.

Configuration, API keys, clients and the thread pool are made once, on the first invocation of a cold start.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .backends import embedding_model, vector_store
from .config import PipelineConfig
from .sync import VectorSync

__all__ = ["cold_start", "handler"]


@functools.cache
def cold_start() -> VectorSync:
    """The function's VectorSync, configured from its environment once."""
    config = PipelineConfig.from_env(os.environ)
    executor = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="embedding-pipeline")
    return VectorSync(config=config, model=embedding_model(config), store=vector_store(config), executor=executor)


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    return cold_start().handle(event, context)
