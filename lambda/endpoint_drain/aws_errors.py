"""Which AWS errors are worth another poll, and which are answers.

The CDK provider framework retries a step only when the handler answers
`IsComplete: false`; any exception fails the custom resource's Delete at once
(aws-cdk-lib, custom-resources/lib/provider-framework/runtime: framework.js `isComplete`
throws Retry only for an incomplete answer, and cfn-response.js `safeHandler` submits
FAILED for every other error). So a throttled or failing AWS call must become "not
complete", or one 503 would end a drain that had an hour to go.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import (
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

# The checkers behind botocore's "standard" retry mode: an error counts as transient here
# exactly when botocore itself would have retried it (throttling codes, RequestTimeout,
# HTTP 500/502/503/504, connection and read failures).
_THROTTLED = ThrottledRetryableChecker()
_TRANSIENT = TransientRetryableChecker()


def is_transient(error: Exception) -> bool:
    """Throttling, a 5xx answer or a broken connection: worth asking again next minute."""
    if isinstance(error, ClientError):
        context = RetryContext(attempt_number=1, parsed_response=error.response)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return (
            _THROTTLED.is_retryable(context)
            or _TRANSIENT.is_retryable(context)
            or status == 429
            or status >= 500
        )
    if isinstance(error, BotoCoreError):
        return bool(_TRANSIENT.is_retryable(RetryContext(attempt_number=1, caught_exception=error)))
    return False


def is_validation_error(error: ClientError) -> bool:
    """SageMaker's answer for a resource that does not exist (or a request it refuses in
    the resource's present state)."""
    return error.response.get("Error", {}).get("Code") == "ValidationException"
