"""Retention of the log groups this library creates, and the Control Tower rule about it."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from asyncinfer_constructs.compliance import acknowledge_guard

# CT.CLOUDWATCH.PR.2: "Require an Amazon CloudWatch log group to be retained for at least
# one year" (AWS Control Tower proactive controls; rule cloudwatch_log_group_retention_
# period_check of the cfn-guard rules bundled with @cdklabs/cdk-validator-cfnguard).
CONTROL_TOWER_MINIMUM_RETENTION_DAYS = 365


def set_retention(
    log_group: logs.LogGroup,
    days: int,
    *,
    setting: str = "log_retention_days",
    why_shorter: str = "these logs serve debugging, while the records live in the results table",
) -> None:
    """Keep `log_group`'s events `days` days (a CloudWatch Logs period, validated by the
    props as `setting`); below a year, acknowledge the Control Tower rule, naming the
    setting and `why_shorter` a retention is enough."""
    # RetentionDays is an enum of names; the validated day count goes on the L1.
    resource = log_group.node.default_child
    assert isinstance(resource, logs.CfnLogGroup)
    resource.retention_in_days = days
    if days < CONTROL_TOWER_MINIMUM_RETENTION_DAYS:
        acknowledge_guard(
            log_group,
            "cloudwatch_log_group_retention_period_check",
            f"Events are kept {setting} ({days} here): {why_shorter}; set it to 365 or more "
            "where a year of log retention is required.",
        )
