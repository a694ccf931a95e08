"""The EmbeddingPipeline's Lambda handler: ``lambda_src.embedding_pipeline.app.handler``.

Configuration, API keys, clients and the thread pool are made once, when Lambda loads this module.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .backends import embedding_model, vector_store
from .config import PipelineConfig
from .sync import VectorSync

__all__ = ["handler"]

CONFIG = PipelineConfig.from_env(os.environ)
EXECUTOR = ThreadPoolExecutor(max_workers=CONFIG.max_concurrency, thread_name_prefix="embedding-pipeline")
SYNC = VectorSync(config=CONFIG, model=embedding_model(CONFIG), store=vector_store(CONFIG), executor=EXECUTOR)


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    return SYNC.handle(event, context)
