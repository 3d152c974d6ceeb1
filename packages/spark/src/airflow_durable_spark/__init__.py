"""Durable Spark operators."""
