"""JupyterHub configuration of the workbench (local and team modes)."""
