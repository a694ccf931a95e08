"""StreamAggregator's handler: exact counts and sums per group, idempotent by per-shard high-water marks."""
