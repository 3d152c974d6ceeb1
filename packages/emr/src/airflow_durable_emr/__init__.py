"""Crash-safe EMR operators (steps, EMR Serverless, EMR on EKS) for Apache Airflow 3.3+."""
