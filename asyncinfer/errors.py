"""Errors a user of the client or CLI can meet, each a one-sentence message.

The CLI prints ``str(error)`` on one line and exits non-zero, so every message names the
item, what was received and what was expected; nothing here should need a traceback to
be understood.
"""

from __future__ import annotations


class AsyncInferenceError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(AsyncInferenceError):
    """The stack, its outputs or the client's settings are not usable."""


class StackNotFoundError(ConfigurationError):
    """No CloudFormation stack (or outputs-file entry) has the requested name."""


class MissingOutputsError(ConfigurationError):
    """The stack exists but lacks outputs the client needs."""


class CredentialsError(AsyncInferenceError):
    """No AWS credentials could be found for the session."""


class PayloadTooLargeError(AsyncInferenceError):
    """A payload exceeds the 1 GB limit of asynchronous inference."""


class EndpointNotFoundError(AsyncInferenceError):
    """The endpoint named by the stack does not exist (or is not InService)."""


class ThrottledError(AsyncInferenceError):
    """AWS kept throttling a call after every retry."""


class InferenceNotFoundError(AsyncInferenceError):
    """The results table has no record for an inference id."""


class InferenceTimeoutError(AsyncInferenceError, TimeoutError):
    """The result did not arrive within the caller's timeout."""


class InputLineError(AsyncInferenceError):
    """One line/row of a batch input could not be read."""


class InferenceFailedError(AsyncInferenceError):
    """The endpoint reported a failure for an inference.

    Carries the failure reason and the S3 location of the error document (when the
    endpoint has a failure path) so callers can act on either.
    """

    def __init__(
        self,
        inference_id: str,
        reason: str | None,
        failure_location: str | None = None,
    ) -> None:
        self.inference_id = inference_id
        self.reason = reason or "no failure reason was reported"
        self.failure_location = failure_location
        where = f" (failure document: {failure_location})" if failure_location else ""
        super().__init__(f"inference {inference_id} failed: {self.reason}{where}")
