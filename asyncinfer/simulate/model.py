"""The model of AWS: SageMaker's async queue, CloudWatch alarms, Application Auto Scaling.

Event-driven: arrivals, completions and instance starts are events; SageMaker's metric
publication and CloudWatch's alarm evaluations are periodic ticks. Every constant lives in
`Assumptions`, with its source in docs/scaling.md and beside the field. Nothing here knows
about CloudFormation, the command line or plotting.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
MODELLED_METRICS = (
    "ApproximateBacklogSize",
    "ApproximateBacklogSizePerInstance",
    "HasBacklogWithoutCapacity",
    "ApproximateAgeOfOldestRequest",
)
# Real-time endpoints' target tracking metric (predefined SageMakerVariantInvocationsPerInstance):
# invocations in the minute divided by the instances (SageMaker Developer Guide, "Monitor
# Amazon SageMaker AI with Amazon CloudWatch"). Async endpoints do not publish it.
INVOCATIONS_PER_INSTANCE = "InvocationsPerInstance"


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """Every modelled constant. Documented values cite AWS; the others are choices."""

    instance_startup_seconds: float = 300.0
    """Provisioning + container start + model load. AWS: "takes several minutes" (SageMaker
    Developer Guide, "Scale an endpoint to zero instances"); 300 s reproduces the
    walkthrough's 7-9 minutes (docs/scaling.md)."""
    request_ttl_seconds: float = 6 * 3600.0
    """RequestTTLSeconds default, 6 h (InvokeEndpointAsync API reference)."""
    metric_interval_seconds: float = 60.0
    """SageMaker publishes endpoint metrics at a 1-minute frequency (SageMaker Developer
    Guide, "Monitor Amazon SageMaker AI with Amazon CloudWatch"). Choice: one sample of the
    state at the end of each minute, timestamped at the minute's start."""
    datapoint_delay_seconds: float = 10.0
    """Choice: seconds after a period ends before its datapoint is evaluated. AWS documents
    no figure; re:Post: "a few seconds delay for the data to become available"."""
    alarm_evaluation_seconds: float = 60.0
    """CloudWatch evaluates alarms every minute (CloudWatch User Guide, "Limits")."""
    high_resolution_evaluation_seconds: float = 10.0
    """Alarms with a 10 or 30 s period are evaluated every 10 s (CloudWatch User Guide,
    "Using Amazon CloudWatch alarms")."""
    autoscaling_action_repeat_seconds: float = 60.0
    """Auto Scaling actions run again while the alarm stays in ALARM (CloudWatch User Guide,
    "Alarm actions": every period / once per minute)."""
    evaluation_range_extra_periods: int = 2
    """CloudWatch retrieves more datapoints than Evaluation Periods (the evaluation range; 5
    for 3 in AWS's example). Choice: N + 2."""
    target_tracking_period_seconds: float = 60.0
    target_tracking_scale_out_datapoints: int = 3
    """The alarm AWS creates for scale-out: metric > target for 3 datapoints within 3
    minutes (as the console shows it, e.g. AWS's ECS workshop "Lab 3: Scaling")."""
    target_tracking_scale_in_datapoints: int = 15
    """The alarm AWS creates for scale-in: 15 datapoints within 15 minutes."""
    target_tracking_scale_in_ratio: float = 0.9
    """Scale-in threshold as a fraction of the target (30 -> 27 in the same workshop;
    "usually more than 10% lower", Application Auto Scaling User Guide)."""
    target_tracking_treat_missing_data: str = "missing"
    """Choice: AWS does not say how its managed alarms treat missing data; CloudWatch's
    default is `missing`."""
    default_cooldown_seconds: float = 300.0
    """Cooldown when a policy sets none: 300 s for SageMaker variants (Application Auto
    Scaling API reference, TargetTrackingScalingPolicyConfiguration)."""
    per_instance_at_zero_with_backlog: str = "backlog"
    """Choice: ApproximateBacklogSizePerInstance with zero instances and a backlog reads the
    backlog (divided by 1): the walkthrough scaled out of zero on target tracking alone.
    `missing`: not published."""
    per_instance_at_zero_idle: str = "missing"
    """Choice: with zero instances and no backlog, 0/0 is not published (`missing`) or 0."""
    target_tracking_capacity_at_zero: int = 1
    """Choice: target tracking computes ceil(capacity x metric / target); AWS documents
    nothing for capacity 0, so the capacity counts as this."""
    bill_startup: bool = True
    """Choice: an instance is billed from its launch (startup included) until it stops."""


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    metric: str
    statistic: str
    period: float
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    actions: tuple[str, ...]  # policy names


@dataclass(frozen=True)
class StepAdjustment:
    lower: float | None
    upper: float | None
    adjustment: float


@dataclass(frozen=True)
class StepScalingPolicy:
    name: str
    adjustment_type: str  # ChangeInCapacity | ExactCapacity | PercentChangeInCapacity
    steps: tuple[StepAdjustment, ...]
    cooldown: float
    aggregation: str = "Average"
    min_adjustment_magnitude: int | None = None


@dataclass(frozen=True)
class TargetTrackingPolicy:
    name: str
    metric: str
    statistic: str
    target: float
    scale_in_cooldown: float
    scale_out_cooldown: float
    disable_scale_in: bool = False


@dataclass(frozen=True)
class ScalingSetup:
    """What the simulation needs from a template: target, policies, alarms, endpoint."""

    source: str
    min_capacity: int
    max_capacity: int
    max_concurrency: int
    instance_type: str | None
    step_policies: tuple[StepScalingPolicy, ...] = ()
    target_tracking: tuple[TargetTrackingPolicy, ...] = ()
    alarms: tuple[AlarmSpec, ...] = ()


@dataclass(frozen=True)
class Trace:
    arrivals: Sequence[float]
    service_seconds: Sequence[float]
    payload_bytes: Sequence[float] | None = None
    """Per request; only `asyncinfer advise` reads it (each option's payload limit)."""


@dataclass
class Instance:
    ident: int
    launched_at: float
    ready_at: float
    in_service: bool = False
    draining: bool = False
    in_flight: int = 0
    stopped_at: float | None = None

    @property
    def accepting(self) -> bool:
        return self.in_service and not self.draining and self.stopped_at is None


@dataclass
class Activity:
    time: float
    from_capacity: int
    to_capacity: int
    policies: tuple[str, ...]
    alarms: tuple[str, ...]


@dataclass
class SimulationResult:
    setup: ScalingSetup
    assumptions: Assumptions
    duration: float
    arrivals: Sequence[float]
    started: list[float | None]
    finished: list[float | None]
    expired: list[float | None]
    instances: list[Instance]
    activities: list[Activity]
    timeline: list[dict[str, float]]
    alarm_changes: list[tuple[float, str, str]]
    alarm_names: list[str]
    wall_seconds: float = 0.0

    def instance_seconds(self) -> float:
        total = 0.0
        for instance in self.instances:
            begin = instance.launched_at if self.assumptions.bill_startup else instance.ready_at
            end = min(self.duration, instance.stopped_at or self.duration)
            total += max(0.0, end - begin)
        return total


# --- CloudWatch ---------------------------------------------------------------------------


def breaches(value: float, comparison: str, threshold: float) -> bool:
    if comparison == "GreaterThanThreshold":
        return value > threshold
    if comparison == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if comparison == "LessThanThreshold":
        return value < threshold
    if comparison == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"unsupported ComparisonOperator {comparison!r}")


def aggregate(values: Sequence[float], statistic: str) -> float:
    if statistic == "Maximum":
        return max(values)
    if statistic == "Minimum":
        return min(values)
    if statistic == "Sum":
        return sum(values)
    if statistic == "SampleCount":
        return float(len(values))
    return sum(values) / len(values)  # Average


def alarm_state(
    datapoints: Sequence[float | None], spec: AlarmSpec, current: str
) -> tuple[str, list[float]]:
    """The state CloudWatch sets from the evaluation range (oldest first; None = missing),
    and the datapoints it evaluated. CloudWatch User Guide, "How alarm state is evaluated
    when data is missing": with enough real datapoints the newest N are evaluated;
    otherwise missing ones are filled per TreatMissingData, as few times as possible."""
    n, m = spec.evaluation_periods, spec.datapoints_to_alarm
    existing = [v for v in datapoints if v is not None]
    if len(existing) >= n:
        evaluated = existing[-n:]
        hits = sum(breaches(v, spec.comparison, spec.threshold) for v in evaluated)
        return (ALARM if hits >= m else OK), evaluated
    hits = sum(breaches(v, spec.comparison, spec.threshold) for v in existing)
    treat = spec.treat_missing_data
    if treat in ("breaching", "notBreaching"):
        filled = n - len(existing)
        hits += filled if treat == "breaching" else 0
        return (ALARM if hits >= m else OK), existing
    if not existing:
        return (INSUFFICIENT if treat == "missing" else current), existing
    if hits >= m:
        return ALARM, existing
    if hits < len(existing):  # a real non-breaching datapoint decides it
        return OK, existing
    # Only breaching datapoints, too few to alarm: the table's "- - - - X" row.
    return (INSUFFICIENT if treat == "missing" else current), existing


@dataclass
class AlarmRuntime:
    spec: AlarmSpec
    state: str = INSUFFICIENT
    last_action: float = -math.inf
    evaluated: list[float] = field(default_factory=list)


# --- Application Auto Scaling -------------------------------------------------------------


@dataclass
class PolicyRuntime:
    last_scale_out: float = -math.inf
    capacity_before_scale_out: int = 0
    last_scale_in: float = -math.inf


def step_capacity(policy: StepScalingPolicy, value: float, threshold: float, base: int) -> int:
    """New capacity from the step whose bounds hold `value - threshold` (Application Auto
    Scaling User Guide, "Step adjustments" and "Scaling adjustment types")."""
    difference = value - threshold
    chosen = None
    for step in policy.steps:
        low = -math.inf if step.lower is None else step.lower
        high = math.inf if step.upper is None else step.upper
        # Above the threshold the lower bound is inclusive; below it, the upper bound.
        inside = low <= difference < high if difference >= 0 else low < difference <= high
        if inside:
            chosen = step
            break
    if chosen is None:
        return base
    if policy.adjustment_type == "ExactCapacity":
        return int(chosen.adjustment)
    if policy.adjustment_type == "PercentChangeInCapacity":
        change = base * chosen.adjustment / 100.0
        if change > 1 or change < -1:
            change = float(math.trunc(change))
        elif change > 0:
            change = 1.0
        elif change < 0:
            change = -1.0
        magnitude = policy.min_adjustment_magnitude
        if magnitude and 0 < abs(change) < magnitude:
            change = math.copysign(magnitude, change)
        return base + int(change)
    return base + int(chosen.adjustment)


def target_tracking_capacity(value: float, target: float, base: int, at_zero: int) -> int:
    """ceil(capacity x metric / target): proportional, rounded towards availability
    (Application Auto Scaling User Guide, "Target tracking ... considerations")."""
    capacity = base if base > 0 else at_zero
    return max(0, math.ceil(capacity * value / target - 1e-9))


# --- The simulation -------------------------------------------------------------------------

_FINISH, _READY, _SAMPLE, _EVALUATE = 0, 1, 3, 4


class EndpointSimulation:
    """One trace through one scaling setup; `run()` returns the result."""

    def __init__(
        self,
        setup: ScalingSetup,
        trace: Trace,
        duration: float,
        assumptions: Assumptions | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.setup = setup
        self.a = assumptions or Assumptions()
        self.trace = trace
        self.duration = duration
        self.progress = progress
        self.alarms = [AlarmRuntime(spec) for spec in self._all_alarms()]
        self.policies: dict[str, PolicyRuntime] = {
            name: PolicyRuntime()
            for name in [p.name for p in setup.step_policies]
            + [p.name for p in setup.target_tracking]
        }
        self.step_by_name = {p.name: p for p in setup.step_policies}
        self.tt_by_name = {p.name: p for p in setup.target_tracking}
        self.alarm_role: dict[str, tuple[str, str]] = {}  # managed alarm -> (policy, out|in)
        self._tag_managed_alarms()
        self.current: dict[str, float | None] = {}
        self.tick = self.a.alarm_evaluation_seconds
        self._reset()

    def _reset(self) -> None:
        count = len(self.trace.arrivals)
        self.queue: deque[int] = deque()
        self.started: list[float | None] = [None] * count
        self.finished: list[float | None] = [None] * count
        self.expired: list[float | None] = [None] * count
        self.instances: list[Instance] = []
        self.activities: list[Activity] = []
        self.timeline: list[dict[str, float]] = []
        self.alarm_changes: list[tuple[float, str, str]] = []
        self.samples: dict[str, dict[float, float]] = {
            name: {} for name in (*MODELLED_METRICS, INVOCATIONS_PER_INSTANCE)
        }
        self.invocations_this_minute = 0
        self.events: list[tuple[float, int, int, object]] = []
        self.sequence = 0
        self.max_instances = self.setup.min_capacity
        self.in_flight = 0
        self.accepting = 0
        self.area = {name: 0.0 for name in MODELLED_METRICS}
        self.covered = {name: 0.0 for name in MODELLED_METRICS}
        self.last_change = 0.0
        self.current = {}

    def _all_alarms(self) -> list[AlarmSpec]:
        specs = list(self.setup.alarms)
        a = self.a
        for policy in self.setup.target_tracking:
            specs.append(
                AlarmSpec(
                    name=f"TargetTracking-{policy.name}-AlarmHigh",
                    metric=policy.metric,
                    statistic=policy.statistic,
                    period=a.target_tracking_period_seconds,
                    evaluation_periods=a.target_tracking_scale_out_datapoints,
                    datapoints_to_alarm=a.target_tracking_scale_out_datapoints,
                    threshold=policy.target,
                    comparison="GreaterThanThreshold",
                    treat_missing_data=a.target_tracking_treat_missing_data,
                    actions=(policy.name,),
                )
            )
            if not policy.disable_scale_in:
                specs.append(
                    AlarmSpec(
                        name=f"TargetTracking-{policy.name}-AlarmLow",
                        metric=policy.metric,
                        statistic=policy.statistic,
                        period=a.target_tracking_period_seconds,
                        evaluation_periods=a.target_tracking_scale_in_datapoints,
                        datapoints_to_alarm=a.target_tracking_scale_in_datapoints,
                        threshold=policy.target * a.target_tracking_scale_in_ratio,
                        comparison="LessThanThreshold",
                        treat_missing_data=a.target_tracking_treat_missing_data,
                        actions=(policy.name,),
                    )
                )
        return specs

    def _tag_managed_alarms(self) -> None:
        for alarm in self.alarms:
            name = alarm.spec.name
            if name.startswith("TargetTracking-"):
                self.alarm_role[name] = (
                    alarm.spec.actions[0],
                    "out" if name.endswith("AlarmHigh") else "in",
                )

    # -- SageMaker ------------------------------------------------------------------------

    def _instant_values(self) -> dict[str, float | None]:
        accepting = self.accepting
        # ApproximateBacklogSize counts requests being processed or yet to be processed
        # (SageMaker Developer Guide, "Alarms and logs for tracking metrics from
        # asynchronous endpoints"); per instance divides it by the instances.
        backlog = len(self.queue) + self.in_flight
        per_instance: float | None
        if accepting:
            per_instance = backlog / accepting
        elif backlog:
            at_zero = self.a.per_instance_at_zero_with_backlog
            per_instance = float(backlog) if at_zero == "backlog" else None
        else:
            per_instance = 0.0 if self.a.per_instance_at_zero_idle == "zero" else None
        return {
            "ApproximateBacklogSize": float(backlog),
            "ApproximateBacklogSizePerInstance": per_instance,
            # 1 while requests wait and no instance serves them (same guide).
            "HasBacklogWithoutCapacity": 1.0 if backlog and not accepting else 0.0,
        }

    def _integrate(self, now: float) -> None:
        """Accumulate the state since the last change: each minute's datapoint is the time
        average of the state over the minute (choice; AWS documents no sampling)."""
        elapsed = now - self.last_change
        if elapsed > 0:
            for name, value in self.current.items():
                if value is not None:
                    self.area[name] += value * elapsed
                    self.covered[name] += elapsed
            self.last_change = now

    def _refresh(self) -> None:
        self.accepting = sum(1 for i in self.instances if i.accepting)
        self.current = self._instant_values()

    def _set_desired(self, now: float, capacity: int) -> None:
        self.desired = capacity
        live = [i for i in self.instances if i.stopped_at is None and not i.draining]
        if capacity > len(live):
            for _ in range(capacity - len(live)):
                ready = now + self.a.instance_startup_seconds
                instance = Instance(len(self.instances), now, ready)
                self.instances.append(instance)
                self._push(ready, _READY, instance.ident)
            self.max_instances = max(self.max_instances, capacity)
            return
        # Choice: remove instances still starting first (newest first), then idle ones,
        # then busy ones, which finish their requests before stopping.
        surplus = len(live) - capacity
        order = sorted(live, key=lambda i: (i.in_service, i.in_flight, -i.launched_at))
        for instance in order[:surplus]:
            if instance.in_flight:
                instance.draining = True
            else:
                instance.stopped_at = now

    def _purge_expired(self, now: float) -> None:
        ttl = self.a.request_ttl_seconds
        arrivals = self.trace.arrivals
        while self.queue and arrivals[self.queue[0]] + ttl <= now:
            index = self.queue.popleft()
            self.expired[index] = arrivals[index] + ttl

    def _dispatch(self, now: float) -> None:
        self._purge_expired(now)
        if not self.queue:
            return
        limit = self.setup.max_concurrency
        service = self.trace.service_seconds
        for instance in self.instances:
            if not instance.accepting:
                continue
            while self.queue and instance.in_flight < limit:
                index = self.queue.popleft()
                self.started[index] = now
                instance.in_flight += 1
                self.in_flight += 1
                self._push(now + service[index], _FINISH, (instance.ident, index))
            if not self.queue:
                return

    # -- CloudWatch -----------------------------------------------------------------------

    def _sample(self, now: float) -> None:
        self._integrate(now)
        self._purge_expired(now)
        self._refresh()
        stamp = now - self.a.metric_interval_seconds
        for name in self.current:
            if self.covered[name] > 0:
                self.samples[name][stamp] = self.area[name] / self.covered[name]
            self.area[name] = self.covered[name] = 0.0
        arrivals = self.trace.arrivals
        self.samples["ApproximateAgeOfOldestRequest"][stamp] = (
            now - arrivals[self.queue[0]] if self.queue else 0.0
        )
        # Choice: published as 0 in a minute without invocations, so an idle real-time
        # endpoint's scale-in alarm has data (AWS does not say what it publishes then).
        self.samples[INVOCATIONS_PER_INSTANCE][stamp] = self.invocations_this_minute / max(
            1, self.accepting
        )
        self.invocations_this_minute = 0
        live = [i for i in self.instances if i.stopped_at is None]
        self.timeline.append(
            {
                "time": now,
                "waiting": float(len(self.queue)),
                "inFlight": float(self.in_flight),
                "desired": float(self.desired),
                "inService": float(sum(1 for i in live if i.in_service)),
                "instances": float(len(live)),
            }
        )
        self.max_instances = max(self.max_instances, len(live))

    def _range(self, spec: AlarmSpec, now: float) -> list[float | None]:
        """The evaluation range's datapoints, oldest first, as visible at `now`."""
        a = self.a
        period = spec.period
        last_end = math.floor((now - a.datapoint_delay_seconds) / period + 1e-9) * period
        count = spec.evaluation_periods + a.evaluation_range_extra_periods
        samples = self.samples.get(spec.metric, {})
        interval = a.metric_interval_seconds
        values: list[float | None] = []
        for k in range(count, 0, -1):
            start = last_end - k * period
            found = []
            # Samples are timestamped on the metric interval; collect those in the period
            # that were published (end of their interval) plus the delay before `now`.
            first = math.ceil(start / interval - 1e-9) * interval
            stamp = first
            while stamp < start + period - 1e-9:
                value = samples.get(stamp)
                if value is not None and stamp + interval + a.datapoint_delay_seconds <= now + 1e-9:
                    found.append(value)
                stamp += interval
            values.append(aggregate(found, spec.statistic) if found else None)
        return values

    def _evaluate(self, now: float) -> None:
        invoked: list[tuple[str, AlarmRuntime]] = []
        a = self.a
        for alarm in self.alarms:
            spec = alarm.spec
            high_resolution = spec.period < 60
            interval = (
                a.high_resolution_evaluation_seconds
                if high_resolution
                else a.alarm_evaluation_seconds
            )
            phase = (now - a.datapoint_delay_seconds) / interval
            if abs(phase - round(phase)) > 1e-6:
                continue
            state, evaluated = alarm_state(self._range(spec, now), spec, alarm.state)
            changed = state != alarm.state
            alarm.state, alarm.evaluated = state, evaluated
            if changed:
                self.alarm_changes.append((now, spec.name, state))
            if state == ALARM and (
                changed or now - alarm.last_action >= a.autoscaling_action_repeat_seconds - 1e-6
            ):
                alarm.last_action = now
                invoked.extend((policy, alarm) for policy in spec.actions)
        if invoked:
            self._scale(now, invoked)

    # -- Application Auto Scaling --------------------------------------------------------

    def _proposal(self, now: float, policy_name: str, alarm: AlarmRuntime) -> int | None:
        current = self.desired
        runtime = self.policies[policy_name]
        evaluated = alarm.evaluated
        if not evaluated:
            return None
        if policy_name in self.tt_by_name:
            tt = self.tt_by_name[policy_name]
            value = evaluated[-1]  # the most recent datapoint
            at_zero = self.a.target_tracking_capacity_at_zero
            if self.alarm_role[alarm.spec.name][1] == "out":
                # In the scale-out cooldown the capacity the cooldown's scale-out added
                # counts as part of the next one (Application Auto Scaling User Guide).
                in_cooldown = now < runtime.last_scale_out + tt.scale_out_cooldown
                base = runtime.capacity_before_scale_out if in_cooldown else current
                proposed = target_tracking_capacity(value, tt.target, base, at_zero)
                return proposed if proposed > current else None
            if now < runtime.last_scale_in + tt.scale_in_cooldown:
                return None  # scale-in blocked until its cooldown expires
            proposed = target_tracking_capacity(value, tt.target, current, at_zero)
            return proposed if proposed < current else None
        step = self.step_by_name[policy_name]
        value = aggregate(evaluated, step.aggregation)
        out_of_cooldown = step_capacity(step, value, alarm.spec.threshold, current)
        if out_of_cooldown > current and now < runtime.last_scale_out + step.cooldown:
            proposed = step_capacity(
                step, value, alarm.spec.threshold, runtime.capacity_before_scale_out
            )
            return proposed if proposed > current else None
        if out_of_cooldown < current and now < runtime.last_scale_in + step.cooldown:
            return None
        return out_of_cooldown if out_of_cooldown != current else None

    def _scale(self, now: float, invoked: list[tuple[str, AlarmRuntime]]) -> None:
        current = self.desired
        low, high = self.setup.min_capacity, self.setup.max_capacity
        proposals: list[tuple[int, str, str]] = []
        for policy_name, alarm in invoked:
            if policy_name not in self.policies:
                continue
            proposed = self._proposal(now, policy_name, alarm)
            if proposed is not None:
                proposals.append((min(high, max(low, proposed)), policy_name, alarm.spec.name))
        ups = [p for p in proposals if p[0] > current]
        downs = [p for p in proposals if p[0] < current]
        if ups:
            # Several policies at once: the largest capacity wins (Application Auto Scaling
            # User Guide, "Target tracking ... considerations").
            target = max(p[0] for p in ups)
            winners = [p for p in ups if p[0] == target]
        elif downs and len(downs) == len(proposals):
            target = max(p[0] for p in downs)
            winners = [p for p in downs if p[0] == target]
        else:
            return
        for _, name, _ in winners:
            runtime = self.policies[name]
            if target > current:
                runtime.last_scale_out = now
                runtime.capacity_before_scale_out = current
            else:
                runtime.last_scale_in = now
        if target > current:
            # A scale-out stops every scale-in cooldown (same guide, "Cooldown period").
            for runtime in self.policies.values():
                runtime.last_scale_in = -math.inf
        self.activities.append(
            Activity(
                now, current, target, tuple(w[1] for w in winners), tuple(w[2] for w in winners)
            )
        )
        self._set_desired(now, target)

    # -- the event loop -------------------------------------------------------------------

    def _push(self, when: float, kind: int, payload: object) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, kind, self.sequence, payload))

    def _prime(self) -> None:
        """An endpoint that has been idle at its minimum capacity for a while."""
        a = self.a
        for _ in range(self.setup.min_capacity):
            instance = Instance(len(self.instances), 0.0, 0.0, in_service=True)
            self.instances.append(instance)
        self.desired = self.setup.min_capacity
        longest = max(
            [
                s.spec.period * (s.spec.evaluation_periods + a.evaluation_range_extra_periods)
                for s in self.alarms
            ]
            or [0.0]
        )
        self._refresh()
        idle = {**self.current, "ApproximateAgeOfOldestRequest": 0.0, INVOCATIONS_PER_INSTANCE: 0.0}
        stamp = -a.metric_interval_seconds
        while stamp >= -longest - 2 * a.metric_interval_seconds:
            for name, value in idle.items():
                if value is not None:
                    self.samples[name][stamp] = value
            stamp -= a.metric_interval_seconds
        for alarm in self.alarms:
            alarm.state, alarm.evaluated = alarm_state(
                self._range(alarm.spec, 0.0), alarm.spec, INSUFFICIENT
            )
        interval = a.metric_interval_seconds
        self._push(interval, _SAMPLE, None)
        high_res = any(s.spec.period < 60 for s in self.alarms)
        tick = a.high_resolution_evaluation_seconds if high_res else a.alarm_evaluation_seconds
        self.tick = tick
        self._push(a.datapoint_delay_seconds, _EVALUATE, None)

    def run(self) -> SimulationResult:
        started_wall = time.perf_counter()
        arrivals = self.trace.arrivals
        count = len(arrivals)
        self._reset()
        self._prime()
        next_arrival = 0
        last_report = started_wall
        steps = 0
        while True:
            event_time = self.events[0][0] if self.events else math.inf
            arrival_time = arrivals[next_arrival] if next_arrival < count else math.inf
            # Completions and instance starts at an instant come before arrivals at it;
            # arrivals before that instant's metric sample and alarm evaluation.
            if arrival_time < event_time or (
                arrival_time == event_time and self.events[0][1] >= _SAMPLE
            ):
                if arrival_time > self.duration:
                    break
                self._integrate(arrival_time)
                self.queue.append(next_arrival)
                self.invocations_this_minute += 1
                next_arrival += 1
                self._dispatch(arrival_time)
                self.current = self._instant_values()
                continue
            if event_time > self.duration:
                break
            now, kind, _, payload = heapq.heappop(self.events)
            self._integrate(now)
            if kind == _FINISH:
                assert isinstance(payload, tuple)
                ident, index = payload
                instance = self.instances[ident]
                instance.in_flight -= 1
                self.in_flight -= 1
                self.finished[index] = now
                if instance.draining and instance.in_flight == 0:
                    instance.stopped_at = now
                self._dispatch(now)
                self.current = self._instant_values()
            elif kind == _READY:
                assert isinstance(payload, int)
                instance = self.instances[payload]
                if instance.stopped_at is None:
                    instance.in_service = True
                    self._refresh()
                    self._dispatch(now)
                    self.current = self._instant_values()
            elif kind == _SAMPLE:
                self._sample(now)
                self._push(now + self.a.metric_interval_seconds, _SAMPLE, None)
            else:
                self._evaluate(now)
                self._refresh()
                self._push(now + self.tick, _EVALUATE, None)
            steps += 1
            if self.progress is not None and steps % 4096 == 0:
                wall = time.perf_counter()
                if wall - last_report >= 0.5:
                    last_report = wall
                    self.progress(min(1.0, now / self.duration))
        self._purge_expired(self.duration)
        self.expired = [e if e is None or e <= self.duration else None for e in self.expired]
        if self.progress is not None:
            self.progress(1.0)
        return SimulationResult(
            setup=self.setup,
            assumptions=self.a,
            duration=self.duration,
            arrivals=arrivals,
            started=self.started,
            finished=self.finished,
            expired=self.expired,
            instances=self.instances,
            activities=self.activities,
            timeline=self.timeline,
            alarm_changes=self.alarm_changes,
            alarm_names=[alarm.spec.name for alarm in self.alarms],
            wall_seconds=time.perf_counter() - started_wall,
        )
