"""Who is asking: the authenticated principal API Gateway puts in the request context."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from job_api.problems import Problem

# An assumed role's session name changes from one set of credentials to the next (an SDK
# names each session itself), so a caller is the role, not the session: without the last
# path element of arn:<partition>:sts::<account>:assumed-role/<role>/<session>.
_ASSUMED_ROLE = re.compile(r"^(arn:[^:]+:sts::\d{12}:assumed-role/[^/]+)/.+$")


def caller_of(request_context: Mapping[str, Any]) -> str:
    """The caller of a REST API proxy event: a Cognito user pool authorizer's `sub` claim,
    else the IAM principal (API Gateway sets identity.userArn for AWS_IAM methods: API
    Gateway Developer Guide, "$context variables for data models, authorizers, mapping
    templates, and access logging")."""
    claims = (request_context.get("authorizer") or {}).get("claims") or {}
    if isinstance(claims, Mapping) and claims.get("sub"):
        return str(claims["sub"])
    user_arn = (request_context.get("identity") or {}).get("userArn")
    if isinstance(user_arn, str) and user_arn:
        match = _ASSUMED_ROLE.match(user_arn)
        return match.group(1) if match else user_arn
    raise Problem(403, "The request carries no authenticated caller; sign it with SigV4.")
