"""SageMaker hosting instance types: their families, and which need which image."""

from __future__ import annotations

import re

INSTANCE_TYPE = re.compile(r"^ml\.([a-z0-9]+)\.([a-z0-9]+)$")
# Instance pools: up to five types, priorities 1-5 (SageMaker API Reference, InstancePool).
MAX_INSTANCE_POOLS = 5

# SageMaker hosting instance families (ml.<family>.<size>).
GPU_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en"}
)
ACCELERATOR_FAMILIES = frozenset({"inf1", "inf2", "trn1", "trn2"})
GRAVITON_FAMILIES = frozenset({"m6g", "m7g", "c6g", "c6gn", "c7g", "r6g", "r7g", "r8g"})
CPU_FAMILIES = frozenset(
    {
        "t2", "t3", "m4", "m5", "m5d", "m6i", "m6id", "m7i", "c4", "c5", "c5d",
        "c6i", "c6id", "c7i", "r5", "r5d", "r6i", "r6id", "r7i",
    }
)  # fmt: skip
KNOWN_FAMILIES = GPU_FAMILIES | ACCELERATOR_FAMILIES | GRAVITON_FAMILIES | CPU_FAMILIES
# Families whose storage is local NVMe: SageMaker rejects an endpoint config KmsKeyId
# for them, because instance storage is always encrypted by the hardware.
NVME_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en",
     "m5d", "c5d", "r5d", "m6id", "c6id", "r6id", "inf2", "trn1", "trn2"}
)  # fmt: skip


def is_gpu_type(instance_type: str) -> bool:
    match = INSTANCE_TYPE.match(instance_type)
    assert match, f"{instance_type!r} was validated before it reached here"
    return match.group(1) in GPU_FAMILIES
