"""When a failed delivery is tried again, and when it is given up.

Exponential backoff with jitter: the n-th retry waits a random time between half and all
of `first_delay * 2**(n-1)`, capped at `max_delay` ("equal jitter": retries of many
events spread out, and no wait is shorter than half its step). Retries go on until
`window` has passed since the first attempt (24 h by default: at least a day of retries,
as the issue asks); the attempt that finds the window over is the last, and the event then
goes to the webhook dead-letter queue.

`scale` multiplies every delay and the window: 1 on AWS, a small fraction in tests and the
bench (the setting `webhook_retry_delay_scale`), so a day of retries takes seconds.

SQS delays a message by at most 900 seconds (SQS Developer Guide, "Amazon SQS delay
queues": "The maximum is 15 minutes"; SendMessage DelaySeconds: 0 to 900). A longer wait
is a chain: the message carries its due time, and a consumer that receives it early sends
it on with the rest of the delay (`hop_delay`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SQS_MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    window_seconds: float = 24 * 3600.0
    scale: float = 1.0

    def delay_before(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry)."""
        step = min(self.max_delay_seconds, self.first_delay_seconds * 2 ** min(retry - 1, 60))
        jitter = (rng or random).uniform(0.5, 1.0)
        return step * jitter * self.scale

    def next_delay(
        self, attempts: int, seconds_since_first: float, rng: random.Random | None = None
    ) -> float | None:
        """The wait before the next attempt, after `attempts` failed ones of which the
        first was `seconds_since_first` ago; None when the window is over (give up)."""
        if seconds_since_first >= self.window_seconds * self.scale:
            return None
        return self.delay_before(attempts, rng)


def hop_delay(seconds_left: float) -> int:
    """The DelaySeconds of the next hop towards a due time `seconds_left` away."""
    # Rounded up: a message must never be due before its time (SQS takes whole seconds).
    return max(0, min(SQS_MAX_DELAY_SECONDS, math.ceil(seconds_left)))
