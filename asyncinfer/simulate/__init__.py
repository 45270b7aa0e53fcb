"""Scaling simulator: the stack's own scaling policies replayed against a request trace.

`model` holds the model of AWS (SageMaker's async queue, CloudWatch, Application Auto
Scaling); `template` reads a synthesized template into a `ScalingSetup`; `trace` builds
arrivals; `report` turns a result into figures; `plot` draws them; `cli` is the command
line. docs/scaling.md lists every modelled constant and its source.

`advise` (with `advise_cli`) runs one trace through four options and picks the cheapest
that serves every request: `endpoints` (async from the template, and a real-time
endpoint, both on the scaling model), `serverless`, `batch`; `options` holds every
option's limits and prices (docs/choosing.md).
"""
