"""Stand-in for Airflow's unpublished ``tests_common``: only what upstream provider tests import.

Fixture plumbing for the parity suite; it holds no assertion.
"""
