"""Release checks for the airflow-durable packages: ``python -m release check | lowest | publish-dry-run``.

Not a published package: it builds, checks and installs the workspace's packages (``make release-check``,
``make test-lowest``, ``make publish-dry-run``; see docs/releasing.md).
"""
