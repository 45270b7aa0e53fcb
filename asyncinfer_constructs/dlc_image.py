"""Hugging Face PyTorch inference DLC image URIs, computed offline for any region.

The DLC registry account differs by region, and CDK's `DLC_REPOSITORY_ACCOUNT` fact
covers fewer regions than the DLCs do, so an environment-agnostic stack carries its own
region -> account mapping and resolves it at deploy time with Fn::FindInMap.

The mapping is the SageMaker Python SDK's own table for this image
(`sagemaker/image_uri_config/huggingface.json`, inference, transformers 4.51.3 /
pytorch 2.6.0, SDK 2.257.7); `tests/infra/test_aws_rules.py` compares the two, so a
region the SDK adds shows up as a failing test. A region outside the table is refused by
a template rule before CloudFormation creates anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnMapping, CfnRule, CfnRuleAssertion, Fn
from constructs import Construct

REPOSITORY = "huggingface-pytorch-inference"

_DEFAULT_ACCOUNT = "763104351884"
_DEFAULT_ACCOUNT_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "sa-east-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip
DLC_ACCOUNTS: dict[str, str] = {
    **dict.fromkeys(_DEFAULT_ACCOUNT_REGIONS, _DEFAULT_ACCOUNT),
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
    "us-iso-east-1": "886529160074",
    "us-isob-east-1": "094389454867",
}


@dataclass(frozen=True, kw_only=True)
class DlcTag:
    """What names one build of the DLC: its version and Python, CUDA and OS tags."""

    version: str
    python: str
    cuda: str
    os: str

    def for_device(self, *, gpu: bool) -> str:
        """`2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04` or the `cpu` equivalent."""
        device = f"gpu-{self.python}-{self.cuda}" if gpu else f"cpu-{self.python}"
        return f"{self.version}-{device}-{self.os}"


class DlcImage(Construct):
    """The Hugging Face DLC images (CPU and GPU) for the stack's region, and their repository."""

    def __init__(
        self, scope: Construct, construct_id: str, *, tag: DlcTag, preferred_gpu: bool
    ) -> None:
        """`preferred_gpu`: whether the image the endpoint prefers is the GPU build."""
        super().__init__(scope, construct_id)
        self._tag = tag
        accounts = CfnMapping(
            self,
            "RegistryAccounts",
            mapping={region: {"account": account} for region, account in DLC_ACCOUNTS.items()},
        )
        # Without this rule a region outside the mapping fails at Fn::FindInMap while
        # CloudFormation is already creating resources; a rule is evaluated before any
        # resource is created or updated (CloudFormation User Guide, "CloudFormation
        # template Rules syntax").
        CfnRule(
            self,
            "ImagePublishedInRegion",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(sorted(DLC_ACCOUNTS), Aws.REGION),
                    assert_description=(
                        f"The Hugging Face image "
                        f"{REPOSITORY}:{tag.for_device(gpu=preferred_gpu)} is not "
                        f"published in this region; deploy to one of "
                        f"{', '.join(sorted(DLC_ACCOUNTS))}, or set image_uri to an image "
                        f"in this region."
                    ),
                )
            ],
        )
        self.registry_account = accounts.find_in_map(Aws.REGION, "account")
        self.repository_arn = Fn.join(
            "",
            [
                "arn:",
                Aws.PARTITION,
                ":ecr:",
                Aws.REGION,
                ":",
                self.registry_account,
                f":repository/{REPOSITORY}",
            ],
        )

    def image_uri(self, *, gpu: bool) -> str:
        return Fn.join(
            "",
            [
                self.registry_account,
                ".dkr.ecr.",
                Aws.REGION,
                ".",
                Aws.URL_SUFFIX,
                f"/{REPOSITORY}:{self._tag.for_device(gpu=gpu)}",
            ],
        )
