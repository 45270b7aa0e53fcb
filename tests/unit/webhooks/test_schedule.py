"""The retry schedule: exponential backoff with jitter, for at least the window, in SQS hops."""

from __future__ import annotations

import random

from webhook_delivery.schedule import SQS_MAX_DELAY_SECONDS, RetryPolicy, hop_delay


def test_delays_grow_exponentially_within_their_jitter() -> None:
    policy = RetryPolicy(first_delay_seconds=5, max_delay_seconds=3600)
    rng = random.Random(7)
    for retry, step in [(1, 5), (2, 10), (3, 20), (8, 640), (10, 2560), (11, 3600), (30, 3600)]:
        delays = [policy.delay_before(retry, rng) for _ in range(200)]
        assert all(step / 2 <= delay <= step for delay in delays)
        assert max(delays) - min(delays) > step / 4  # jittered, not fixed


def test_retries_last_at_least_the_window_and_then_stop() -> None:
    """Walk the schedule as the dispatcher does: retries continue until the day is over."""
    policy = RetryPolicy()
    rng = random.Random(1)
    elapsed, attempts = 0.0, 1
    while (delay := policy.next_delay(attempts, elapsed, rng)) is not None:
        elapsed += delay
        attempts += 1
    assert elapsed >= 24 * 3600
    # ~13 retries in the first few hours, then about one an hour (at most 3600 s apart).
    assert 30 <= attempts <= 60


def test_scale_shortens_every_delay_and_the_window() -> None:
    policy = RetryPolicy(scale=0.001)
    rng = random.Random(3)
    elapsed, attempts = 0.0, 1
    while (delay := policy.next_delay(attempts, elapsed, rng)) is not None:
        assert delay <= 3.6
        elapsed += delay
        attempts += 1
    assert 86.4 <= elapsed <= 86.4 + 3.6


def test_long_delays_are_chains_of_sqs_hops() -> None:
    assert hop_delay(0) == 0
    assert hop_delay(0.2) == 1
    assert hop_delay(0.0007) == 1  # a scaled delay is still a delay
    assert hop_delay(-3) == 0
    assert hop_delay(899.5) == 900
    assert hop_delay(3600) == SQS_MAX_DELAY_SECONDS == 900


def test_which_answers_are_retried() -> None:
    from webhook_delivery.attempt import Outcome, outcome_of

    assert {s: outcome_of(s) for s in (200, 201, 204, 299)} == dict.fromkeys(
        (200, 201, 204, 299), Outcome.DELIVERED
    )
    for status in (500, 502, 503, 504, 599, 429, 408):
        assert outcome_of(status) is Outcome.RETRY
    # Other 4xx stop, and so do redirects (never followed).
    for status in (400, 401, 403, 404, 410, 413, 301, 302, 307, 308):
        assert outcome_of(status) is Outcome.STOP
