"""Secrets Manager rotation function of the webhook signing secret.

Secrets Manager calls it four times per rotation, one step each (Secrets Manager User
Guide, "Lambda rotation functions"; event: SecretId, ClientRequestToken, Step):

- createSecret: a new version staged AWSPENDING, holding a fresh key as `current` and the
  key it replaces as `previous`, valid for `WEBHOOK_SECRET_OVERLAP_HOURS` more;
- setSecret: nothing to set: the receivers are not ours; they read the new key themselves
  (`asyncinfer webhook-secret`) while deliveries carry both signatures;
- testSecret: the pending value parses and signs;
- finishSecret: AWSCURRENT moves to the new version (the old one becomes AWSPREVIOUS).

Each step is idempotent, as the guide asks: a step Secrets Manager repeats finds its work
done and returns.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from asyncinfer_runtime.environment import WEBHOOK_SECRET_OVERLAP_HOURS
from asyncinfer_runtime.webhook_secret import SigningKeys, new_key, parse_secret, secret_value

PENDING = "AWSPENDING"
CURRENT = "AWSCURRENT"


@functools.cache
def client() -> Any:
    return boto3.client("secretsmanager")


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    rotate(
        client(),
        secret_id=str(event["SecretId"]),
        token=str(event["ClientRequestToken"]),
        step=str(event["Step"]),
        overlap=timedelta(hours=float(os.environ.get(WEBHOOK_SECRET_OVERLAP_HOURS, "24"))),
        now=datetime.now(UTC),
    )


def rotate(
    secrets: Any, *, secret_id: str, token: str, step: str, overlap: timedelta, now: datetime
) -> None:
    stages = secrets.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"Secret version {token} of {secret_id} is not a version of the secret.")
    if CURRENT in stages[token]:
        return  # finished already (a repeated step)
    if PENDING not in stages[token]:
        raise ValueError(f"Secret version {token} of {secret_id} is not staged {PENDING}.")
    if step == "createSecret":
        try:
            secrets.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
            return  # created by an earlier try of this step
        except secrets.exceptions.ResourceNotFoundException:
            pass
        current = parse_secret(
            secrets.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)["SecretString"]
        )
        rotated = SigningKeys(
            current=new_key(), previous=current.current, previous_valid_until=now + overlap
        )
        secrets.put_secret_value(
            SecretId=secret_id,
            ClientRequestToken=token,
            SecretString=secret_value(rotated),
            VersionStages=[PENDING],
        )
    elif step == "setSecret":
        return
    elif step == "testSecret":
        pending = secrets.get_secret_value(
            SecretId=secret_id, VersionId=token, VersionStage=PENDING
        )["SecretString"]
        from standardwebhooks import Webhook

        for key in parse_secret(pending).signing(now):
            Webhook(key).sign("msg_rotation_test", now, "{}")
    elif step == "finishSecret":
        current_version = next(version for version, labels in stages.items() if CURRENT in labels)
        secrets.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage=CURRENT,
            MoveToVersionId=token,
            RemoveFromVersionId=current_version,
        )
    else:
        raise ValueError(
            f"Rotation step must be createSecret, setSecret, testSecret or "
            f"finishSecret; received {step!r}."
        )
