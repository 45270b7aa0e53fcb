"""The OpenAPI 3.1 document, written from the resolver (routes.py) and committed beside it
(openapi.json), which GET /v1/openapi.json serves. A test fails when the two drift:
regenerate with `python -m job_api.openapi` from lambda/ (or `make openapi`).

What the resolver cannot say is added here, in one place: the IAM (SigV4) security scheme;
that validation errors are 400 problems (Powertools documents them as 422); optional
parameters as their type, not "type or null" (a query parameter is absent, never null);
header parameters by their canonical names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from job_api.routes import HEADERS, OPENAPI_FILE, app

TITLE: Final = "asyncinfer job API"
VERSION: Final = "1"
DESCRIPTION: Final = (
    "Asynchronous inference over HTTP: submit a payload as a job, read its status and "
    "result, list finished jobs. Every method is signed with AWS Signature Version 4 "
    "(service `execute-api`), or carries a Cognito user pool token when the stack was "
    "deployed with `api_authorizer=cognito`. Errors are application/problem+json (RFC 9457). "
    "Paths are relative to the stack output `ApiUrl`."
)
_SIGV4: Final = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "description": "AWS Signature Version 4, service execute-api "
    "(curl --aws-sigv4 'aws:amz:<region>:execute-api').",
    "x-amazon-apigateway-authtype": "awsSigv4",
}


def document() -> dict[str, Any]:
    raw = json.loads(
        app.get_openapi_json_schema(
            title=TITLE, version=VERSION, description=DESCRIPTION, openapi_version="3.1.0"
        )
    )
    raw["servers"] = [{"url": "/", "description": "The stack output ApiUrl."}]
    raw["security"] = [{"sigv4": []}]
    components = raw.setdefault("components", {})
    components["securitySchemes"] = {"sigv4": _SIGV4}
    for schema in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        components.get("schemas", {}).pop(schema, None)
    for operations in raw["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            operation.pop("deprecated", None)
            for parameter in operation.get("parameters", []):
                _tidy(parameter)
    return raw


def _tidy(parameter: dict[str, Any]) -> None:
    schema = parameter["schema"]
    choices = [choice for choice in schema.pop("anyOf", []) if choice != {"type": "null"}]
    if len(choices) == 1:
        schema.update(choices[0])
    schema.pop("title", None)
    if parameter["in"] == "header":
        parameter["name"] = {name.lower(): name for name in HEADERS}[parameter["name"].lower()]
    if "default" in schema and schema["default"] is None:
        del schema["default"]


def text() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else OPENAPI_FILE
    target.write_text(text(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
