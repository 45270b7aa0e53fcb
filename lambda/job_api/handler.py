"""The Lambda entry point: API Gateway's REST proxy event in, its proxy response out."""

from __future__ import annotations

from typing import Any

from job_api.routes import app


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
