"""Approval gates: a run waits at an ``approval`` step until a permitted person decides.

- :mod:`.service` — :class:`ApprovalService` (decide, pending list, signed links) for one
  principal, and the gate's own bookkeeping the worker's activities call.
- :mod:`.links` — HMAC-signed, expiring, single-use approve/reject tokens.
- :mod:`.events` — the hook other parts subscribe to (requested, escalated, decided...).
- :mod:`.models` — what the REST API, CLI and run history show.
"""
