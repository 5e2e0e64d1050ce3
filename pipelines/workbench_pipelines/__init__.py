"""Pipelines: YAML notebook DAGs executed durably as Temporal workflows."""
