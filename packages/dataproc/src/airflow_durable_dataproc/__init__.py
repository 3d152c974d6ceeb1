"""Crash-safe Dataproc operators (jobs on clusters, Serverless batches) for Apache Airflow 3.3+."""
