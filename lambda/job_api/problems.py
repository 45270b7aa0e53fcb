"""Errors as RFC 9457 problem details: `application/problem+json` with one sentence
(`detail`) naming what was wrong.

Every problem has `type` "about:blank" and the status code's reason phrase as `title`:
RFC 9457, section 4.2.1 ("about:blank" says the problem has no semantics beyond the
status code). API Gateway's own errors (a missing signature, throttling, a body above its
limit) come out in the same shape: the construct sets them as gateway responses
(asyncinfer_constructs/job_api.py).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler import Response

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


class Problem(Exception):
    """Raised anywhere in a request; the resolver answers with it (routes.py)."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def problem_body(status: int, detail: str) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }


def problem_response(problem: Problem) -> Response[str]:
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_MEDIA_TYPE,
        body=json.dumps(problem_body(problem.status, problem.detail)),
        headers=problem.headers,
    )
