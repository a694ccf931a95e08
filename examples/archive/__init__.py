"""Seed 002's "moving old or infrequently accessed items to S3 Glacier": the sessions that time to live deletes,
archived to S3 by a ``TtlArchiver`` and moved to Glacier Instant Retrieval after 30 days.
"""
