"""Stand-ins for ``tests_common.test_utils``."""
