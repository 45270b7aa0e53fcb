"""`asyncinfer advise` against outcomes derived by hand (docs/choosing.md walks through
them): each option's cost and latency on tiny traces, each limit, and the article's table.

Figures used throughout: instance start-up 300 s, service 0.5 s, an instance price of
USD 3.6 an hour (USD 0.001 a second), serverless 2 GB at USD 0.00002 per GB-second with a
30 s cold start, a batch job every hour with a 300 s start-up.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from asyncinfer.simulate.advise import Advice, OptionChoices, advise, table
from asyncinfer.simulate.batch import run_batch
from asyncinfer.simulate.endpoints import realtime_setup, run_async, run_realtime
from asyncinfer.simulate.model import Assumptions, Trace
from asyncinfer.simulate.options import MIB, OPTIONS, OptionAssumptions
from asyncinfer.simulate.serverless import run_serverless
from tests.unit.simulate.test_model import DELAY, STARTUP, ours

REPO_ROOT = Path(__file__).resolve().parents[3]
PRICE = 3.6  # USD an hour: a second costs 0.001
SERVICE = 0.5
MODEL = Assumptions(instance_startup_seconds=STARTUP)
LIMITS = OptionAssumptions()
GB_SECOND = LIMITS.serverless_usd_per_gb_second
COLD = LIMITS.serverless_cold_start_seconds
# The scale-out-from-zero alarm needs 2 breaching minutes, seen DELAY after the second.
LAUNCH = 2 * 60 + DELAY
# Target tracking's low alarm removes the instance 15 datapoints after the request came.
STOP = 15 * 60 + DELAY


def trace(arrivals: list[float], service: float = SERVICE, payload: float = 1000.0) -> Trace:
    return Trace(arrivals, [service] * len(arrivals), [payload] * len(arrivals))


def run_all(arrivals: list[float], hours: float, **choices: object) -> Advice:
    return advise(
        ours(step_cooldown=600),
        trace(arrivals),
        hours * 3600,
        PRICE,
        "test",
        MODEL,
        LIMITS,
        OptionChoices(**choices),  # type: ignore[arg-type]
    )


def test_one_request() -> None:
    result = run_all([0.0], hours=1)
    figures = {name: result.results[name].figures() for name in OPTIONS}
    # async: launched at LAUNCH, in service one start-up later, billed until STOP.
    assert figures["async"]["p50LatencySeconds"] == LAUNCH + STARTUP + SERVICE == 430.5
    assert figures["async"]["costUsd"] == pytest.approx((STOP - LAUNCH) * 0.001)
    # real-time: one instance, always on, for the hour.
    assert figures["realtime"]["p99LatencySeconds"] == SERVICE
    assert figures["realtime"]["costUsd"] == pytest.approx(PRICE)
    # serverless: a cold start, then the request; only the processing is billed.
    assert figures["serverless"]["p95LatencySeconds"] == COLD + SERVICE
    assert figures["serverless"]["costUsd"] == pytest.approx(SERVICE * 2 * GB_SECOND)
    # batch: the job at the hour starts its instance, then processes the request.
    assert figures["batch"]["p50LatencySeconds"] == 3600 + 300 + SERVICE - 0
    assert figures["batch"]["costUsd"] == pytest.approx((300 + SERVICE) * 0.001)
    assert all(f["unservable"] == 0 for f in figures.values())
    assert result.cheapest == "serverless"


def test_two_requests_an_hour_apart() -> None:
    result = run_all([0.0, 3600.0], hours=2)
    figures = {name: result.results[name].figures() for name in OPTIONS}
    # async: the endpoint is back at zero long before the second, which waits as long.
    assert figures["async"]["p50LatencySeconds"] == figures["async"]["p99LatencySeconds"] == 430.5
    assert figures["async"]["costUsd"] == pytest.approx(2 * (STOP - LAUNCH) * 0.001)
    assert result.results["async"].detail["instancesLaunched"] == 2
    assert figures["realtime"]["costUsd"] == pytest.approx(2 * PRICE)
    # serverless: the container went cold (idle 300 s < 3600 s): two cold starts.
    assert figures["serverless"]["p99LatencySeconds"] == COLD + SERVICE
    assert result.results["serverless"].detail["coldStarts"] == 2
    assert figures["serverless"]["costUsd"] == pytest.approx(2 * SERVICE * 2 * GB_SECOND)
    # batch: a request at 3600 s misses the job at 3600 s and waits for the one at 7200 s.
    assert figures["batch"]["p50LatencySeconds"] == figures["batch"]["p99LatencySeconds"]
    assert figures["batch"]["p99LatencySeconds"] == 3600 + 300 + SERVICE
    assert result.results["batch"].detail["jobs"] == 2
    assert figures["batch"]["costUsd"] == pytest.approx(2 * (300 + SERVICE) * 0.001)


def test_serverless_reuses_a_warm_container_and_queues_at_max_concurrency() -> None:
    warm = run_serverless(trace([0.0, 100.0]), 3600, LIMITS)
    assert warm.latencies == [SERVICE, COLD + SERVICE]
    assert warm.detail["coldStarts"] == 1
    one = run_serverless(trace([0.0, 0.0], service=10), 3600, LIMITS, max_concurrency=1)
    # The second waits for the only container: it starts warm when the first finishes.
    assert one.latencies == [COLD + 10, COLD + 20]
    provisioned = run_serverless(trace([0.0]), 3600, LIMITS, provisioned=1)
    assert provisioned.latencies == [SERVICE]
    # A provisioned container is billed for the whole time (a choice, docs/choosing.md).
    assert provisioned.cost_usd == pytest.approx(2 * GB_SECOND * (SERVICE + 3600))


def test_batch_every_half_hour_and_concurrency() -> None:
    result = run_batch(trace([0.0, 0.0, 1800.0], service=100), 1800, PRICE, 2, LIMITS)
    # Two slots: the first two in parallel in the job at 1800 s; the third at 3600 s.
    assert result.latencies == [1800 + 300 + 100, 1800 + 300 + 100, 1800 + 300 + 100]
    assert result.cost_usd == pytest.approx((400 + 400) * 0.001)


def test_realtime_target_is_aws_formula_and_a_fixed_count_is_billed_whole() -> None:
    setup = realtime_setup(ours(), trace([0.0]), LIMITS, fixed=None)
    # MAX_RPS = 4 concurrent / 0.5 s = 8; x 0.5 safety x 60 = 240 invocations a minute.
    assert setup.target_tracking[0].target == 240
    assert (setup.min_capacity, setup.max_capacity) == (1, 2)
    fixed = run_realtime(ours(), trace([0.0]), 3600, PRICE, MODEL, LIMITS, fixed=3)
    assert fixed.cost_usd == pytest.approx(3 * PRICE)


def test_realtime_scales_out_on_invocations_per_instance() -> None:
    # 300 a minute for 10 minutes: above the 240 target but within one instance's 480
    # (8 a second), so target tracking adds a second instance and nobody waits.
    burst = [i * 0.2 for i in range(3000)]
    result = run_realtime(ours(), trace(burst), 3600, PRICE, MODEL, LIMITS)
    assert result.detail["instancesLaunched"] == 2
    assert not result.unservable


def test_requests_queued_past_realtimes_limit_are_unservable() -> None:
    # 20 requests of 50 s on one instance of 4 slots: the later ones wait past 60 s.
    result = run_realtime(ours(), trace([0.0] * 20, service=50), 3600, PRICE, MODEL, LIMITS, 1)
    assert result.unservable == {"no response within real-time's 60 s (queued behind others)": 16}


# The article's table ("Pros and Cons of Amazon SageMaker Asynchronous Inference", 2022):
# real-time 60 s / 6 MB, async 15 min (now 1 h) / 1 GB, batch "unlimited". AWS documents
# batch transform's limits as 100 MB a record (none with chunked encoding) and 1 h a
# request, so "unlimited" holds for payloads only with MaxPayloadInMB=0.
OVER = {
    "realtime payload": (7 * MIB, SERVICE),
    "realtime processing": (1000.0, 90.0),
    "async payload": (2 * 1024 * MIB, SERVICE),
    "async processing": (1000.0, 7200.0),
}
EXPECTED = {
    # limit passed: which options cannot serve it, by reason's start
    "realtime payload": {"realtime": "payload", "serverless": "payload"},
    "realtime processing": {"realtime": "processing", "serverless": "processing"},
    "async payload": {"realtime": "payload", "serverless": "payload", "async": "payload"},
    "async processing": {
        "realtime": "processing",
        "serverless": "processing",
        "async": "processing",
        "batch": "processing",
    },
}


@pytest.mark.parametrize("case", list(OVER))
def test_the_articles_table(case: str) -> None:
    payload, service = OVER[case]
    limits = dataclasses.replace(LIMITS, batch_max_payload_bytes=0)  # chunked encoding
    result = advise(
        ours(step_cooldown=600),
        Trace([0.0], [service], [payload]),
        3 * 3600,
        PRICE,
        "test",
        MODEL,
        limits,
        OptionChoices(),
    )
    refused = {
        name: next(iter(r.unservable)).split(" ")[0]
        for name, r in result.results.items()
        if r.unservable
    }
    assert refused == EXPECTED[case]
    served = [name for name in OPTIONS if name not in refused]
    assert result.cheapest == (
        min(served, key=lambda n: result.results[n].cost_usd) if served else None
    )


def test_past_asyncs_payload_only_batch_with_chunked_encoding_serves_it() -> None:
    huge = Trace([0.0], [SERVICE], [2 * 1024 * MIB])
    default = advise(ours(), huge, 3600, PRICE, "test", MODEL, LIMITS, OptionChoices()).results[
        "batch"
    ]
    assert default.unservable == {"payload over batch's limit of 104,857,600 bytes": 1}
    chunked = run_batch(
        huge, 3600, PRICE, 4, dataclasses.replace(LIMITS, batch_max_payload_bytes=0)
    )
    assert chunked.serves_everything


def test_reasons_name_the_limit() -> None:
    result = run_all([0.0], hours=1)
    over = advise(
        ours(), Trace([0.0], [90.0], [5 * MIB]), 3600, PRICE, "t", MODEL, LIMITS, OptionChoices()
    )
    assert over.results["serverless"].unservable == {
        "payload over serverless's limit of 4,194,304 bytes": 1
    }
    assert over.results["realtime"].unservable == {
        "processing longer than real-time's 60 s timeout": 1
    }
    assert result.results["async"].unservable == {}


def test_an_option_that_cannot_serve_everything_is_never_cheapest() -> None:
    # Serverless is by far the cheapest here, but refuses the 5 MB request.
    result = advise(
        ours(), Trace([0.0, 10.0], [SERVICE] * 2, [1000.0, 5 * MIB]), 3600, PRICE, "t",
        MODEL, LIMITS, OptionChoices(),
    )  # fmt: skip
    assert result.results["serverless"].cost_usd < result.results["batch"].cost_usd
    assert result.cheapest == "batch"
    assert result.ranked()[-1].option == "serverless"
    assert (
        table(result)
        .splitlines()[-1]
        .startswith("Cheapest that serves every request: batch transform")
    )


def test_no_option_serving_everything_gives_null() -> None:
    result = advise(
        ours(), Trace([0.0], [7200.0], [1000.0]), 3 * 3600, PRICE, "t", MODEL, LIMITS,
        OptionChoices(),
    )  # fmt: skip
    assert result.cheapest is None
    assert result.document()["cheapest"] is None
    assert table(result).splitlines()[-1] == "No option serves every request."


def test_json_keys_are_the_issues() -> None:
    body = run_all([0.0], hours=1).document()
    assert set(body["options"]) == {"async", "realtime", "serverless", "batch"}
    for option in body["options"].values():
        assert set(option) == {
            "costUsd", "p50LatencySeconds", "p95LatencySeconds", "p99LatencySeconds",
            "unservable", "unservableReasons",
        }  # fmt: skip
    assert body["cheapest"] == "serverless"


def test_async_is_exactly_what_simulate_runs() -> None:
    from asyncinfer.simulate.model import EndpointSimulation
    from asyncinfer.simulate.report import summary

    arrivals = [0.0, 30.0, 4000.0]
    simulated = summary(EndpointSimulation(ours(600), trace(arrivals), 7200, MODEL).run(), PRICE)
    advised = run_async(ours(600), trace(arrivals), 7200, PRICE, MODEL, LIMITS).figures()
    assert advised["costUsd"] == pytest.approx(simulated["cost"], abs=1e-4)
    assert advised["p95LatencySeconds"] == simulated["p95LatencySeconds"]


def test_every_assumption_is_in_docs_choosing_with_its_value() -> None:
    doc = (REPO_ROOT / "docs" / "choosing.md").read_text()
    values = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("|") for line in doc.splitlines() if line.startswith("| `"))
    }
    for field in dataclasses.fields(OptionAssumptions):
        assert f"`{field.name}`" in values, f"docs/choosing.md has no row for {field.name}"
        default = f"{field.default:f}".rstrip("0").rstrip(".")
        assert values[f"`{field.name}`"] == default, field.name
