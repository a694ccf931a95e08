"""Seed 002's "updating a dashboard every time a new sale is recorded": sales per store per day, kept exact by a
``StreamAggregator``, with the trigger's dashboard showing the pipeline's health.
"""
