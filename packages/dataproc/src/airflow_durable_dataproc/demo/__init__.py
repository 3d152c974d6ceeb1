"""Demo-only code: ``airflow-durable demo dataproc-jobs`` (and ``dataproc-batches``)."""
