# The whole configuration lives in the package so it can be tested and versioned.
from workbench_hub.config import configure

configure(c)  # noqa: F821 - `c` is provided by JupyterHub
