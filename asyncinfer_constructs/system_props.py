"""What the whole system shares: payload storage, what outlives the stack, the alarm inbox."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from asyncinfer_constructs.pipeline_props import ResultsPipelineProps, check_pipeline_props
from asyncinfer_constructs.props import between, check_fields, matching, one_of

REMOVAL_POLICIES = ("retain", "destroy")


@dataclass(frozen=True, kw_only=True)
class AsyncInferenceSystemProps(ResultsPipelineProps):
    """Settings of the system around its endpoints (the results pipeline's among them).

    The storage and alarm settings describe resources the system creates; passing your
    own bucket or alarm topic to AsyncInferenceSystem instead is refused together with
    them (one or the other, never both).
    """

    data_retention_days: int = field(default=30, metadata=between(1, 3650))
    """Days before payloads, outputs and failure documents expire from S3."""
    access_log_retention_days: int = field(default=90, metadata=between(1, 3650))
    """Days before S3 server access logs expire."""
    removal_policy: str = field(default="retain", metadata=one_of(*REMOVAL_POLICIES))
    """`retain` keeps buckets, table and key on stack deletion; `destroy` deletes them."""
    alarm_email: str | None = field(
        default=None, metadata=matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "be an email address")
    )
    """Address subscribed to the alarm topic; no subscription when unset."""

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"

    def __post_init__(self) -> None:
        check_pipeline_props(self)
        check_fields(self, [f.name for f in fields(AsyncInferenceSystemProps)])
