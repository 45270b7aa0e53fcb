"""How the local SageMaker platform reads inputs, writes outputs and publishes notifications.

On AWS these are calls inside AWS (SageMaker to S3 and SNS); nothing of the user's runs on
that path. Locally the stand-ins are moto's backends in this same process, so the endpoint
service calls them directly rather than through boto3, HTTP and moto's request dispatcher:
those three layers cost ~15 ms of CPU per request under one GIL, which capped local mode at
~35 requests/s while the model alone serves ~1,000 (bench/bench_local.py). Everything the
user's code does (uploads, InvokeEndpointAsync, the results writer, reading results) still
goes over HTTP through boto3, as against AWS.

The effects are those of the HTTP calls: objects get their Content-Type and the bucket's
ACL, and a publish fans out to the topic's subscriptions (raw delivery to the results queue)
inside moto, exactly as a Publish request does.
"""

from __future__ import annotations

from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.utilities.utils import get_partition

from .provision import ACCOUNT_ID


class ObjectUnavailable(Exception):
    """A GetObject that S3 would refuse; ``code`` is S3's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class StandInPlatform:
    """S3 GetObject/PutObject and SNS Publish against the in-process stand-ins."""

    def __init__(self, region: str, account_id: str = ACCOUNT_ID) -> None:
        self._s3 = s3_backends[account_id][get_partition(region)]
        self._sns = sns_backends[account_id][region]

    def get_object(self, bucket: str, key: str) -> tuple[bytes, str | None]:
        """The object's bytes and its Content-Type (None when it was stored without one)."""
        if bucket not in self._s3.buckets:
            raise ObjectUnavailable("NoSuchBucket")
        found = self._s3.get_object(bucket, key)
        if found is None:
            raise ObjectUnavailable("NoSuchKey")
        content_type = found.metadata.get("Content-Type")
        return bytes(found.value), str(content_type) if content_type else None

    def put_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        if bucket not in self._s3.buckets:
            raise ObjectUnavailable("NoSuchBucket")
        stored = self._s3.put_object(bucket, key, body)
        stored.set_metadata({"Content-Type": content_type})
        stored.set_acl(self._s3.get_bucket(bucket).acl)

    def publish(self, topic_arn: str, message: str) -> None:
        self._sns.publish(message, arn=topic_arn)
