"""The built-in alert engine: the plan's alert rules for installations without Prometheus.

Rules live in ``alerts.yaml`` in the workbench home (:mod:`.rules`); the server evaluates
them every interval (:mod:`.engine`) against the metadata DB, the disks and Temporal
(:mod:`.conditions`), keeps each alert's state and history in the metadata DB, and sends
notices to its channels (:mod:`.channels`).
"""
