"""Declarative steps run by the worker: extract, merge, scd2 and sql.

Each runs in a thread of the ``workbench.run_step`` activity, as the pipeline's owner
(their connections, the network policy and data roots), writes only through the lake
library with the attempt as its writer, and records what it read and wrote: the table
versions (run history), column lineage, and the watermarks of incremental work.
"""
