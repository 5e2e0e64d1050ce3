"""Prometheus metrics of the workbench: instruments, collectors, the scrape token and
the endpoints that export them (see docs/observability.md)."""
