"""Endpoint middleware: logging, Prometheus instrumentation and resilience, one module each;
``observed`` puts logging and metrics together the way every service of the order system uses them.

Every middleware here is a ``kit.endpoint.Middleware``: it wraps an endpoint in behaviour and returns
an endpoint of the same type, so each transport gets it unchanged. Import from the modules
(``kit.middleware.metrics``, ``kit.middleware.logging``, ...); this package imports nothing so that
using one middleware never loads the libraries of another.
"""
