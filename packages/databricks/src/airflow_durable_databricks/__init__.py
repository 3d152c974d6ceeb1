"""Durable Databricks operators, built on databricks-sdk."""
