"""What a failed attempt means for its step: retried, or the step's end."""

from __future__ import annotations

from .plan import StepPlan
from .run_history import Started
from .spec_types import error_matches


def stop_decision(step: StepPlan, started: Started, name: str, message: str) -> tuple[bool, str]:
    """Whether this failure ends the step (no retry), and a note saying why when the
    step had attempts left: its attempts are used up, or the error is one the step's
    retries do not retry."""
    retries = step.retries
    if started.failures + 1 >= retries.attempts:
        return True, ""
    if error_matches(retries.non_retryable, name, message):
        return True, f" (not retried: {name} is listed in retries.non_retryable)"
    if retries.retry_on is not None and not error_matches(retries.retry_on, name, message):
        return True, f" (not retried: {name} is not listed in retries.retry_on)"
    return False, ""
