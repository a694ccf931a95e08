"""SummaryEnricher's runtime: the Lambda handler ``lambda_src.summary_enricher.app.handler`` and its configuration.

The infrastructure is ``constructs_pkg.SummaryEnricher``; it sets the environment ``SummaryEnricherConfig`` reads.
"""

from __future__ import annotations

from .config import SummaryEnricherConfig, SummaryProvider

__all__ = ["SummaryEnricherConfig", "SummaryProvider"]
