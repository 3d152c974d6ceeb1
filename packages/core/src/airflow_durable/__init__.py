"""Crash-safe submit-and-poll operators for Apache Airflow."""
