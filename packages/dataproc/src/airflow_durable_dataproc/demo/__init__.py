"""Demo-only code: ``airflow-durable demo dataproc`` (and ``dataproc-batches``)."""
