"""What the results pipeline is: how notifications become records, and for how long."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from asyncinfer_constructs.props import between, check_fields, require
from asyncinfer_runtime.record import INLINE_BODY_LIMIT

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ResultsPipelineProps:
    """The results pipeline's settings. Each field's doc is also its row in README.md."""

    results_retention_days: int = field(default=90, metadata=between(1, 3650))
    """Days before a results record expires (DynamoDB TTL)."""
    # 256 KiB is above the largest body a notification carries (128 KiB, about 171 KiB as
    # base64) and leaves a record well under DynamoDB's 400 KB item limit.
    results_inline_body_max_bytes: int = field(default=4096, metadata=between(0, INLINE_BODY_LIMIT))
    """Largest response body a record keeps inline, bytes as sent (0..262144); else S3 only."""
    results_batch_size: int = field(default=100, metadata=between(1, 10000))
    """Notifications per results-writer invocation (1..10000)."""
    results_batching_window_seconds: int = field(default=1, metadata=between(0, 300))
    """Seconds the event source waits to fill a batch (0..300; >= 1 when batch > 10)."""
    results_max_receive_count: int = field(default=5, metadata=between(1, 1000))
    """Deliveries of a notification before it moves to the dead-letter queue."""
    results_writer_memory_mib: int = field(default=256, metadata=between(128, 10240))
    """Results writer Lambda memory (128..10240)."""
    results_writer_max_concurrency: int = field(default=10, metadata=between(2, 1000))
    """Most concurrent results-writer invocations (2..1000); bounds table write bursts."""
    log_retention_days: int = 30
    """Retention of the functions' and the endpoints' log groups (a CloudWatch Logs value)."""

    def __post_init__(self) -> None:
        check_pipeline_props(self)


def check_pipeline_props(p: ResultsPipelineProps) -> None:
    check_fields(p, [f.name for f in fields(ResultsPipelineProps)])
    require(
        p.results_batch_size <= 10 or p.results_batching_window_seconds >= 1,
        f"Setting 'results_batching_window_seconds' must be at least 1 when "
        f"'results_batch_size' is above 10 (an SQS event source rule); received "
        f"{p.results_batching_window_seconds!r} with a batch size of {p.results_batch_size}.",
    )
    require(
        p.log_retention_days in LOG_RETENTION_DAYS,
        f"Setting 'log_retention_days' must be one of CloudWatch Logs' periods "
        f"({', '.join(map(str, LOG_RETENTION_DAYS))}); received {p.log_retention_days!r}.",
    )
