"""S3 policies evaluated as AWS and MinIO evaluate an allow-only policy, for the tests.

moto (the tests' S3 and STS) accepts a session policy but does not enforce it (its
assumed-role credentials carry the role's policies only), so the tests evaluate the
policy documents themselves.
"""

from __future__ import annotations

import re


def like(pattern: str, value: str) -> bool:
    """IAM's StringLike (and ARN matching): ``*`` any run of characters, ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def allowed(policy: dict, action: str, resource: str, prefix: str | None = None) -> bool:
    """Whether ``policy`` allows the request: some statement matches the action and the
    resource, and each of its conditions holds (a missing ``s3:prefix`` key fails a
    StringLike on it). A bucket ARN never matches an object pattern (``lake/*`` is not
    ``lake``)."""
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        if not any(like(a, action) for a in statement["Action"]):
            continue
        if not any(like(r, resource) for r in statement["Resource"]):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringLike"}, conditions
        values = {"s3:prefix": prefix}
        if all(
            values[key] is not None and any(like(p, values[key]) for p in patterns)
            for key, patterns in conditions.get("StringLike", {}).items()
        ):
            return True
    return False
