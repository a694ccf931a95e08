"""The SummaryEnricher function's configuration: its environment variables, read and checked once per cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from lambda_src.contract import (
    DEFAULT_ANTHROPIC_MODEL,
    DEFAULT_DEADLINE_MARGIN_MS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    DEFAULT_SOURCE_ATTRIBUTE,
    DEFAULT_SUMMARY_ATTRIBUTE,
    DEFAULT_SUMMARY_MAX_CONCURRENCY,
    PROMPT_PLACEHOLDER,
    PipelineEnv,
    RuntimeEnv,
    SummaryEnv,
    SummaryProvider,
)
from lambda_src.stream_runtime.config import EnvironmentReader

__all__ = ["SummaryEnricherConfig", "SummaryProvider"]


@dataclass(frozen=True)
class SummaryEnricherConfig:
    """What the SummaryEnricher construct tells its function; build it with ``from_env``.

    ``model_id`` is set for the anthropic and bedrock providers, ``anthropic_api_key_secret_arn`` for anthropic,
    ``summarizer_plugin`` for plugin. ``deadline_margin`` is the stream runtime's: the time left unused before
    the function's timeout.
    """

    table_name: str
    source_attribute: str
    summary_attribute: str
    max_tokens: int
    prompt: str
    max_concurrency: int
    provider: SummaryProvider
    model_id: str | None
    anthropic_api_key_secret_arn: str | None
    summarizer_plugin: str | None
    deadline_margin: timedelta

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SummaryEnricherConfig:
        """Read the variables (Default: ``os.environ``; names in ``lambda_src.contract``); raise one ConfigError
        naming every variable that is wrong.

        TABLE_NAME and SUMMARY_PROVIDER (anthropic, bedrock or plugin) are required. SOURCE_ATTRIBUTE Default: body.
        SUMMARY_ATTRIBUTE Default: aiSummary. MAX_TOKENS Default: 150. PROMPT, holding {text}, Default: "Summarize
        in one sentence: {text}". MAX_CONCURRENCY Default: 16. anthropic: MODEL_ID Default: claude-haiku-4-5, and
        ANTHROPIC_API_KEY_SECRET_ARN; bedrock: MODEL_ID; plugin: SUMMARIZER_PLUGIN as "module:Class".
        """
        reader = EnvironmentReader(os.environ if environ is None else environ, "SummaryEnricher")
        table_name = reader.text(PipelineEnv.TABLE_NAME)
        source_attribute = reader.text(SummaryEnv.SOURCE_ATTRIBUTE, DEFAULT_SOURCE_ATTRIBUTE)
        summary_attribute = reader.text(SummaryEnv.SUMMARY_ATTRIBUTE, DEFAULT_SUMMARY_ATTRIBUTE)
        if source_attribute == summary_attribute:
            reader.problem(
                f"{SummaryEnv.SUMMARY_ATTRIBUTE} must differ from {SummaryEnv.SOURCE_ATTRIBUTE} "
                f"({source_attribute!r}): a summary written over its source would be summarized in turn, forever"
            )
        prompt = reader.text(SummaryEnv.PROMPT, DEFAULT_PROMPT)
        if PROMPT_PLACEHOLDER not in prompt:
            reader.problem(
                f"{SummaryEnv.PROMPT} must hold {PROMPT_PLACEHOLDER} where the source text goes, got {prompt!r}"
            )
        max_tokens = reader.whole_number(SummaryEnv.MAX_TOKENS, DEFAULT_MAX_TOKENS, minimum=1)
        max_concurrency = reader.whole_number(PipelineEnv.MAX_CONCURRENCY, DEFAULT_SUMMARY_MAX_CONCURRENCY, minimum=1)
        deadline_margin = reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS)
        provider: SummaryProvider = reader.choice(SummaryEnv.PROVIDER, SummaryProvider)
        model_id = secret_arn = plugin = None
        match provider:
            case SummaryProvider.ANTHROPIC:
                model_id = reader.text(SummaryEnv.MODEL_ID, DEFAULT_ANTHROPIC_MODEL)
                secret_arn = reader.text(SummaryEnv.ANTHROPIC_API_KEY_SECRET_ARN)
            case SummaryProvider.BEDROCK:
                model_id = reader.text(SummaryEnv.MODEL_ID)
            case SummaryProvider.PLUGIN:
                plugin = reader.class_path(SummaryEnv.PLUGIN)
        reader.finish()
        return cls(
            table_name=table_name,
            source_attribute=source_attribute,
            summary_attribute=summary_attribute,
            max_tokens=max_tokens,
            prompt=prompt,
            max_concurrency=max_concurrency,
            provider=provider,
            model_id=model_id,
            anthropic_api_key_secret_arn=secret_arn,
            summarizer_plugin=plugin,
            deadline_margin=deadline_margin,
        )
