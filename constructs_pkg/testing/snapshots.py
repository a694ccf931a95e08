"""A stack's template made deterministic for a snapshot (syrupy's ``snapshot`` fixture, or any other).

What changes from one build to the next without any change to the user's resources is scrubbed: asset hashes (in
S3 keys, asset paths and anything else holding a 64-character hex digest), so that a new release of this library's
runtime layer, or an edit of a handler, leaves the snapshot as it was; the bootstrap version parameter and its rule,
which the CDK adds to every stack synthesized with the default synthesizer; and the CDK's metadata (the
``AWS::CDK::Metadata`` resource with its condition, and the ``aws:cdk:*`` and ``aws:asset:*`` entries of each
resource's Metadata). Everything else stays, so any change to the user's own resources shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["ASSET_HASH_PLACEHOLDER", "scrub_asset_hashes", "template_snapshot"]

ASSET_HASH_PLACEHOLDER = "<asset-hash>"
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_CDK_METADATA_TYPE = "AWS::CDK::Metadata"
_CDK_METADATA_CONDITION = "CDKMetadataAvailable"
_BOOTSTRAP_PARAMETER = "BootstrapVersion"
_BOOTSTRAP_RULE = "CheckBootstrapVersion"
_CDK_METADATA_PREFIXES = ("aws:cdk:", "aws:asset:")


def template_snapshot(stack: Any) -> dict[str, Any]:
    """The template of ``stack`` (an ``aws_cdk.Stack``, or a template already read as a dict) with asset hashes,
    the bootstrap version parameter and rule, and the CDK's metadata scrubbed: compare it with a snapshot.

    A stack is synthesized with its app (``aws_cdk.assertions.Template.from_stack``), as ``cdk synth`` would.
    """
    if isinstance(stack, Mapping):
        template: dict[str, Any] = dict(stack)
    else:
        from aws_cdk.assertions import Template

        template = dict(Template.from_stack(stack).to_json())
    scrubbed: dict[str, Any] = scrub_asset_hashes(template)
    resources = {
        logical_id: _without_cdk_metadata(resource)
        for logical_id, resource in scrubbed.get("Resources", {}).items()
        if resource.get("Type") != _CDK_METADATA_TYPE
    }
    scrubbed["Resources"] = resources
    for section, name in (
        ("Parameters", _BOOTSTRAP_PARAMETER),
        ("Rules", _BOOTSTRAP_RULE),
        ("Conditions", _CDK_METADATA_CONDITION),
    ):
        entries = {key: value for key, value in scrubbed.get(section, {}).items() if key != name}
        if entries:
            scrubbed[section] = entries
        else:
            scrubbed.pop(section, None)
    return scrubbed


def scrub_asset_hashes(template: Any) -> Any:
    """``template`` with every asset hash (a 64-character hex digest) replaced by ``<asset-hash>``."""
    if isinstance(template, Mapping):
        return {key: scrub_asset_hashes(value) for key, value in template.items()}
    if isinstance(template, list):
        return [scrub_asset_hashes(value) for value in template]
    if isinstance(template, str):
        return _ASSET_HASH.sub(ASSET_HASH_PLACEHOLDER, template)
    return template


def _without_cdk_metadata(resource: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = dict(resource)
    metadata = {
        key: value for key, value in cleaned.get("Metadata", {}).items() if not key.startswith(_CDK_METADATA_PREFIXES)
    }
    if metadata:
        cleaned["Metadata"] = metadata
    else:
        cleaned.pop("Metadata", None)
    return cleaned
