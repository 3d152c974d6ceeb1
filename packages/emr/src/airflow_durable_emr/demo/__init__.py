"""Demo-only code: ``airflow-durable demo emr`` (and ``emr-serverless``, ``emr-containers``)."""
