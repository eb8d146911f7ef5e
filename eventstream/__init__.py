"""The ``eventstream`` command line: one entry point for every process of the system."""
