"""What the HTTP job API is: who may call it, how fast, and how long its logs are kept.

Plain data, no aws_cdk import: the app's settings (stacks/config.py) extend these props.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from asyncinfer_constructs.pipeline_props import LOG_RETENTION_DAYS
from asyncinfer_constructs.props import between, check_fields, matching, one_of, require

API_AUTHORIZERS = ("iam", "cognito")


@dataclass(frozen=True, kw_only=True)
class JobApiProps:
    """The job API's settings. Each field's doc is also its row in README.md."""

    api_authorizer: str = field(default="iam", metadata=one_of(*API_AUTHORIZERS))
    """Who may call the job API: `iam` (SigV4 on every method) or `cognito` (a user pool's JWT)."""
    api_user_pool_arn: str | None = field(
        default=None,
        metadata=matching(
            r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_[0-9A-Za-z]+$",
            "be a Cognito user pool ARN like "
            "'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc123'",
        ),
    )
    """The user pool whose tokens the job API accepts, for `api_authorizer=cognito`."""
    # API Gateway's account quota is 10,000 requests per second with a burst of 5,000 per
    # Region (API Gateway Developer Guide, "Amazon API Gateway quotas"); a stage cannot go
    # above it.
    api_throttling_rate_limit: int = field(default=50, metadata=between(1, 10000))
    """Requests per second the job API's stage takes, steady (1..10000); beyond: 429."""
    api_throttling_burst_limit: int = field(default=100, metadata=between(1, 5000))
    """Requests the job API's stage takes at once (1..5000); beyond: 429."""
    api_access_log_retention_days: int = 90
    """Retention of the job API's JSON access logs (a CloudWatch Logs value)."""
    api_function_memory_mib: int = field(default=512, metadata=between(128, 10240))
    """Job API Lambda memory (128..10240); CPU grows with it, and so does import speed."""

    def __post_init__(self) -> None:
        check_api_props(self)


def check_api_props(p: JobApiProps) -> None:
    check_fields(p, [f.name for f in fields(JobApiProps)])
    require(
        p.api_access_log_retention_days in LOG_RETENTION_DAYS,
        f"Setting 'api_access_log_retention_days' must be one of CloudWatch Logs' periods "
        f"({', '.join(map(str, LOG_RETENTION_DAYS))}); received "
        f"{p.api_access_log_retention_days!r}.",
    )
    require(
        p.api_authorizer == "cognito" or p.api_user_pool_arn is None,
        f"Setting 'api_user_pool_arn' applies only with api_authorizer=cognito; received "
        f"{p.api_user_pool_arn!r} with api_authorizer={p.api_authorizer!r}.",
    )
