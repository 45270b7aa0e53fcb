"""boto3 sessions and clients, and turning AWS errors into this package's one-liners."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from asyncinfer.errors import (
    AsyncInferenceError,
    ConfigurationError,
    CredentialsError,
    EndpointNotFoundError,
    ThrottledError,
)

DEFAULT_MAX_ATTEMPTS = 8
# The checker behind the "standard" retry mode the clients use: an error is reported as
# throttling exactly when botocore backed off from it as throttling.
_THROTTLED = ThrottledRetryableChecker()


def make_session(profile_name: str | None = None, region_name: str | None = None) -> Any:
    try:
        return boto3.session.Session(profile_name=profile_name, region_name=region_name)
    except ProfileNotFound:
        raise ConfigurationError(
            f"AWS profile {profile_name!r} was not found in the AWS config or credentials "
            f"files; expected a profile name from `aws configure list-profiles`"
        ) from None


class ClientFactory:
    """Makes every AWS client the package uses, with the same endpoint URL and retries.

    ``endpoint_url`` (the CLI's --endpoint-url) points every service at one stand-in;
    without it boto3 still honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        endpoint_url: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_pool_connections: int = 32,
    ) -> None:
        self.session = session or make_session()
        self.endpoint_url = endpoint_url
        # "standard" retry mode backs off exponentially with jitter on throttling and
        # transient errors; what still fails after max_attempts is reported.
        self.config = Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
        )
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            with translate_errors():
                kwargs: dict[str, Any] = {"config": self.config}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                self._clients[service] = self.session.client(service, **kwargs)
        return self._clients[service]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_throttling_code(code: str) -> bool:
    """Whether botocore's standard retry mode treats this error code as throttling."""
    context = RetryContext(attempt_number=1, parsed_response={"Error": {"Code": code}})
    return bool(_THROTTLED.is_retryable(context))


def describe(error: BaseException, what: str = "") -> AsyncInferenceError:
    """The package error for an AWS error; ``what`` names the item/operation concerned."""
    prefix = f"{what}: " if what else ""
    if isinstance(error, AsyncInferenceError):
        return error
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return CredentialsError(
            f"{prefix}no AWS credentials were found; expected environment variables, "
            f"--profile NAME or an instance role (see `aws configure`)"
        )
    if isinstance(error, NoRegionError):
        return ConfigurationError(
            f"{prefix}no AWS region is configured; pass --region or set AWS_REGION"
        )
    if isinstance(error, EndpointConnectionError):
        return AsyncInferenceError(f"{prefix}cannot reach {error.kwargs.get('endpoint_url')}")
    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "") or code
        operation = getattr(error, "operation_name", "") or "the call"
        if is_throttling_code(code):
            attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return ThrottledError(
                f"{prefix}AWS throttled {operation} ({code}) and it was still throttled "
                f"after {attempts + 1} attempts with backoff; retry later or lower --concurrency"
            )
        if operation == "InvokeEndpointAsync" and (
            "not found" in message.lower() or "could not find" in message.lower()
        ):
            return EndpointNotFoundError(
                f"{prefix}endpoint not found ({message}); expected the stack's endpoint "
                f"to exist and be InService (check `--stack` and the region)"
            )
        if code in {"NoSuchBucket", "ResourceNotFoundException"}:
            return ConfigurationError(f"{prefix}{operation} failed: {message} ({code})")
        if code in {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException"}:
            return CredentialsError(f"{prefix}{operation} was denied: {message} ({code})")
        return AsyncInferenceError(f"{prefix}{operation} failed: {message} ({code})")
    if isinstance(error, BotoCoreError):
        return AsyncInferenceError(f"{prefix}{error}")
    return AsyncInferenceError(f"{prefix}{type(error).__name__}: {error}")


@contextlib.contextmanager
def translate_errors(what: str = "") -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise describe(error, what) from error
