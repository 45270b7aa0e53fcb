"""Request traces: an arrivals file, or one of the built-in scenarios."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.model import Trace

DEFAULT_SERVICE_SECONDS = 0.5  # choice: a small text model's request, S3 and SNS included


@dataclass(frozen=True)
class Workload:
    name: str
    trace: Trace
    hours: float  # how long to simulate unless --hours says otherwise


def read_arrivals(
    path: Path, service_seconds: float, payload_bytes: float | None = None
) -> Workload:
    """One request per line: seconds since the start, optionally its service seconds and
    its payload bytes (`seconds[, service seconds[, payload bytes]]`). The trace carries
    payloads when `payload_bytes` gives a default or a line gives one."""
    if not path.is_file():
        raise ConfigurationError(
            f"--arrivals {str(path)!r} does not exist; expected a file with one request per line"
        )
    rows: list[tuple[float, float, float | None]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = text.replace(",", " ").split()
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = []
        if (
            not 1 <= len(values) <= 3
            or values[0] < 0
            or (len(values) >= 2 and values[1] <= 0)
            or (len(values) == 3 and values[2] < 0)
        ):
            raise ConfigurationError(
                f"{path} line {number}: {line.strip()!r} is not a request; expected seconds "
                f"since the start (a number >= 0), optionally followed by that request's "
                f"service seconds (> 0) and payload bytes (>= 0)"
            )
        rows.append(
            (
                values[0],
                values[1] if len(values) >= 2 else service_seconds,
                values[2] if len(values) == 3 else payload_bytes,
            )
        )
    if not rows:
        raise ConfigurationError(
            f"--arrivals {str(path)!r} holds no request; expected one per line"
        )
    rows.sort(key=lambda row: row[0])
    payloads = None
    if any(r[2] is not None for r in rows):
        payloads = [0.0 if r[2] is None else r[2] for r in rows]
    trace = Trace([r[0] for r in rows], [r[1] for r in rows], payloads)
    return Workload(path.name, trace, hours=(rows[-1][0] + 3600.0) / 3600.0)


def _fixed(arrivals: list[float], service: float) -> Trace:
    return Trace(arrivals, [service] * len(arrivals))


def single(service: float) -> Workload:
    """One request on an idle endpoint."""
    return Workload("single", _fixed([0.0], service), hours=1.0)


def seed_walkthrough(service: float) -> Workload:
    """The walkthrough's 10 requests at once on an idle endpoint."""
    return Workload("seed-walkthrough", _fixed([0.0] * 10, service), hours=1.0)


def sparse(service: float) -> Workload:
    """One request every 20 minutes for 6 hours (18 requests), then an hour to drain."""
    return Workload("sparse", _fixed([i * 1200.0 for i in range(18)], service), hours=7.0)


# Business hours: a Poisson day rate from 09:00 to 17:00 and a quiet night rate around it.
DIURNAL_DAY = (9 * 3600.0, 17 * 3600.0)
DIURNAL_DAY_RATE = 3.6  # requests per second: 103,680 expected
DIURNAL_NIGHT_RATE = 0.5 / 3600.0  # one request every two hours
DIURNAL_SEED = 12


def diurnal(service: float, seed: int = DIURNAL_SEED) -> Workload:
    """A day of random arrivals with a day and a night rate (over 100,000 requests)."""
    rng = random.Random(seed)
    arrivals: list[float] = []
    now = 0.0
    end = 24 * 3600.0
    start_day, end_day = DIURNAL_DAY
    while True:
        rate = DIURNAL_DAY_RATE if start_day <= now < end_day else DIURNAL_NIGHT_RATE
        step = rng.expovariate(rate)
        boundary = start_day if now < start_day else end_day if now < end_day else end
        if now + step >= boundary:
            # Memorylessness: restart the draw at the rate change.
            now = boundary
            if now >= end:
                break
            continue
        now += step
        arrivals.append(now)
    return Workload("diurnal", _fixed(arrivals, service), hours=24.0)


def burst(service: float) -> Workload:
    """2,000 requests evenly spread within one minute."""
    return Workload("burst", _fixed([i * 60.0 / 2000 for i in range(2000)], service), hours=1.0)


SCENARIOS: dict[str, Callable[[float], Workload]] = {
    "single": single,
    "seed-walkthrough": seed_walkthrough,
    "sparse": sparse,
    "diurnal": diurnal,
    "burst": burst,
}


def scenario(name: str, service_seconds: float) -> Workload:
    if name not in SCENARIOS:
        raise ConfigurationError(
            f"--scenario {name!r} is not a scenario; expected one of {', '.join(SCENARIOS)}"
        )
    return SCENARIOS[name](service_seconds)
