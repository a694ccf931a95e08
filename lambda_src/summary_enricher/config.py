"""The SummaryEnricher function's configuration: its environment variables, read and checked once per cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from lambda_src.stream_runtime.batch import DEADLINE_MARGIN_ENV, DEFAULT_DEADLINE_MARGIN

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PROMPT",
    "DEFAULT_SOURCE_ATTRIBUTE",
    "DEFAULT_SUMMARY_ATTRIBUTE",
    "PROMPT_PLACEHOLDER",
    "SummaryEnricherConfig",
    "SummaryProvider",
]

# The seed's choices: summarize `body` in one sentence with claude-haiku-4-5, at most 150 tokens, into `aiSummary`.
DEFAULT_SOURCE_ATTRIBUTE = "body"
DEFAULT_SUMMARY_ATTRIBUTE = "aiSummary"
DEFAULT_MAX_TOKENS = 150
PROMPT_PLACEHOLDER = "{text}"
DEFAULT_PROMPT = f"Summarize in one sentence: {PROMPT_PLACEHOLDER}"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
# Summaries are network waits of about a second each: 16 in flight keeps a batch of 100 to 7 rounds. Lower it
# (max_concurrency) for a low Anthropic rate-limit tier; 429s are retried after their Retry-After either way.
DEFAULT_MAX_CONCURRENCY = 16


class SummaryProvider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    PLUGIN = "plugin"


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
        """Read the variables (Default: ``os.environ``); raise one ValueError naming every variable that is wrong.

        TABLE_NAME and SUMMARY_PROVIDER (anthropic, bedrock or plugin) are required. SOURCE_ATTRIBUTE Default: body.
        SUMMARY_ATTRIBUTE Default: aiSummary. MAX_TOKENS Default: 150. PROMPT, holding {text}, Default: "Summarize
        in one sentence: {text}". MAX_CONCURRENCY Default: 8. anthropic: MODEL_ID Default: claude-haiku-4-5, and
        ANTHROPIC_API_KEY_SECRET_ARN; bedrock: MODEL_ID; plugin: SUMMARIZER_PLUGIN as "module:Class".
        """
        reader = _Reader(os.environ if environ is None else environ)
        table_name = reader.text("TABLE_NAME")
        source_attribute = reader.text("SOURCE_ATTRIBUTE", DEFAULT_SOURCE_ATTRIBUTE)
        summary_attribute = reader.text("SUMMARY_ATTRIBUTE", DEFAULT_SUMMARY_ATTRIBUTE)
        if source_attribute == summary_attribute:
            reader.problems.append(
                f"SUMMARY_ATTRIBUTE must differ from SOURCE_ATTRIBUTE ({source_attribute!r}): a summary written over "
                "its source would be summarized in turn, forever"
            )
        prompt = reader.text("PROMPT", DEFAULT_PROMPT)
        if PROMPT_PLACEHOLDER not in prompt:
            reader.problems.append(f"PROMPT must hold {PROMPT_PLACEHOLDER} where the source text goes, got {prompt!r}")
        max_tokens = reader.whole_number("MAX_TOKENS", DEFAULT_MAX_TOKENS, minimum=1)
        max_concurrency = reader.whole_number("MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, minimum=1)
        default_margin_ms = DEFAULT_DEADLINE_MARGIN // timedelta(milliseconds=1)
        deadline_margin = timedelta(milliseconds=reader.whole_number(DEADLINE_MARGIN_ENV, default_margin_ms, minimum=0))
        provider_name = reader.text("SUMMARY_PROVIDER")
        model_id = secret_arn = plugin = None
        match provider_name:
            case SummaryProvider.ANTHROPIC:
                model_id = reader.text("MODEL_ID", DEFAULT_ANTHROPIC_MODEL)
                secret_arn = reader.text("ANTHROPIC_API_KEY_SECRET_ARN")
            case SummaryProvider.BEDROCK:
                model_id = reader.text("MODEL_ID")
            case SummaryProvider.PLUGIN:
                plugin = reader.text("SUMMARIZER_PLUGIN")
                module_name, _, class_name = plugin.partition(":")
                if plugin and not (module_name and class_name):
                    reader.problems.append(f"SUMMARIZER_PLUGIN must name a class as 'module:Class', got {plugin!r}")
            case "":
                pass  # already reported as missing
            case _:
                choices = ", ".join(provider.value for provider in SummaryProvider)
                reader.problems.append(f"SUMMARY_PROVIDER must be one of {choices}, got {provider_name!r}")
        if reader.problems:
            raise ValueError("SummaryEnricher configuration: " + "; ".join(reader.problems))
        return cls(
            table_name=table_name,
            source_attribute=source_attribute,
            summary_attribute=summary_attribute,
            max_tokens=max_tokens,
            prompt=prompt,
            max_concurrency=max_concurrency,
            provider=SummaryProvider(provider_name),
            model_id=model_id,
            anthropic_api_key_secret_arn=secret_arn,
            summarizer_plugin=plugin,
            deadline_margin=deadline_margin,
        )


class _Reader:
    """Reads variables and collects what is wrong with them, so that one error names every problem."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str:
        value = self.environ.get(name, "")
        if value.strip():
            return value
        if default is not None:
            return default
        self.problems.append(f"{name} is required" + (" and must not be blank" if name in self.environ else ""))
        return ""

    def whole_number(self, name: str, default: int, *, minimum: int) -> int:
        text = self.environ.get(name)
        if text is None:
            return default
        if text.isascii() and text.isdigit() and int(text) >= minimum:
            return int(text)
        self.problems.append(f"{name} must be a whole number of at least {minimum}, got {text!r}")
        return default
