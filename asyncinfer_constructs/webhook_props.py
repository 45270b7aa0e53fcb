"""What the webhooks are: how long and how often a delivery is retried, and the secret's life."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from asyncinfer_constructs.props import between, check_fields


@dataclass(frozen=True, kw_only=True)
class WebhooksProps:
    """The webhook dispatcher's settings. Each field's doc is also its row in README.md."""

    webhook_retry_first_delay_seconds: int = field(default=5, metadata=between(1, 900))
    """Wait before a failed webhook's first retry; each retry doubles it, with jitter."""
    webhook_retry_max_delay_seconds: int = field(default=3600, metadata=between(1, 86400))
    """Longest wait between two webhook attempts (seconds)."""
    webhook_retry_window_hours: int = field(default=24, metadata=between(24, 336))
    """Hours a failing webhook is retried (timeouts, 5xx, 429) before its dead-letter queue."""
    webhook_retry_delay_scale: float = field(default=1.0, metadata=between(0.00001, 1))
    """Multiplies every retry delay and the window: 1 in production; tests and the bench
    shorten a day of retries to seconds."""
    webhook_attempt_timeout_seconds: int = field(default=5, metadata=between(1, 30))
    """Seconds a receiver has to answer one webhook attempt."""
    webhook_secret_rotation_days: int = field(default=90, metadata=between(1, 1000))
    """Days between rotations of the webhook signing secret."""
    webhook_secret_overlap_hours: int = field(default=24, metadata=between(1, 720))
    """Hours the previous signing key still signs (beside the new one) after a rotation."""
    webhook_max_receive_count: int = field(default=5, metadata=between(1, 1000))
    """Receives of a notification or delivery message that failed for an internal reason
    (jobs table unreachable, a bug) before its dead-letter queue."""

    def __post_init__(self) -> None:
        check_webhook_props(self)


def check_webhook_props(props: WebhooksProps) -> None:
    check_fields(props, [f.name for f in fields(WebhooksProps)])
