"""The HTTP job API: a regional API Gateway REST API in front of a system's endpoints.

    POST /v1/jobs, GET /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/result,
    POST /v1/jobs/{id}/webhook, POST /v1/uploads, GET /v1/openapi.json

Every method is signed with SigV4 (IAM) or, by a setting, carries a Cognito user pool
token; one function (lambda/job_api, Powertools' REST event handler) serves them all; a
jobs table keeps what a job must remember beyond its results record (asyncinfer_runtime/
jobs.py). The stage throttles, logs every request as JSON (encrypted, with retention) and
traces with X-Ray; API Gateway's own errors are application/problem+json like the
function's.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Final

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from asyncinfer_constructs.api_props import JobApiProps
from asyncinfer_constructs.async_inference_system import AsyncInferenceSystem
from asyncinfer_constructs.compliance import (
    acknowledge,
    acknowledge_guard,
    ignore_cfn_lint,
    nag_resource,
    skip_checkov,
)
from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.functions import function_code, log_group_and_role, write_own_logs
from asyncinfer_constructs.log_groups import set_retention
from asyncinfer_constructs.props import ConfigError
from asyncinfer_constructs.storage import FAILURE_PREFIX, OUTPUT_PREFIX
from asyncinfer_runtime.environment import (
    API_ENDPOINTS,
    INPUT_BUCKET_NAME,
    JOBS_TABLE_NAME,
    LOG_LEVEL,
    RESULTS_RETENTION_DAYS,
    RESULTS_TABLE_NAME,
)
from asyncinfer_runtime.jobs import JOBS_PARTITION_KEY, JOBS_TTL_ATTRIBUTE

HANDLER: Final = "job_api.handler.lambda_handler"
STAGE: Final = "prod"
# API Gateway waits 29 s for a REST integration by default (API Gateway Developer Guide,
# "Amazon API Gateway quotas", Integration timeout); the function may not take longer.
FUNCTION_TIMEOUT: Final = Duration.seconds(29)
# Powertools for AWS Lambda (Python) and its pydantic come from the AWS-published layer
# for the function's runtime and architecture, never from this machine's site-packages
# (pydantic-core is a compiled wheel; an x86_64 build would not load on arm64). The layer
# of a given release is found by its public SSM parameter, resolved by CloudFormation at
# deploy time, so synth stays offline: /aws/service/powertools/python/<arch>/<runtime>/
# <version> (Powertools for AWS Lambda (Python) docs, "Lambda Layers": "SSM Parameter
# Store"; the v3 layers include the extras, pydantic among them). The version is the one
# requirements-dev.txt pins for local mode and the tests (tests/tooling holds them equal).
POWERTOOLS_VERSION: Final = "3.37.0"
RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE: Final = lambda_.Architecture.ARM_64

# (resource path, methods) of the API, all served by the one function.
ROUTES: Final = (
    ("v1/jobs", ("GET", "POST")),
    ("v1/jobs/{id}", ("GET",)),
    ("v1/jobs/{id}/result", ("GET",)),
    ("v1/jobs/{id}/webhook", ("POST",)),
    ("v1/uploads", ("POST",)),
    ("v1/openapi.json", ("GET",)),
)
# API Gateway's own answers, as RFC 9457 problems like the function's (gateway response
# types: API Gateway Developer Guide, "Gateway response types for API Gateway").
GATEWAY_PROBLEMS: Final = {
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INVALID_SIGNATURE": 403,
    "EXPIRED_TOKEN": 403,
    "ACCESS_DENIED": 403,
    "UNAUTHORIZED": 401,
    "THROTTLED": 429,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
}
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


def powertools_layer_arn(architecture: str = "arm64", runtime: str = "python3.14") -> str:
    """The Powertools layer of POWERTOOLS_VERSION, as a CloudFormation dynamic reference."""
    return (
        f"{{{{resolve:ssm:/aws/service/powertools/python/{architecture}/{runtime}/"
        f"{POWERTOOLS_VERSION}}}}}"
    )


def problem_template(title: str, status: int | None) -> str:
    """A gateway response's body: the problem, `detail` being API Gateway's own message."""
    status_member = f'"status":{status},' if status is not None else ""
    return (
        f'{{"type":"about:blank","title":"{title}",{status_member}'
        f'"detail":$context.error.messageString}}'
    )


class JobApi(Construct):
    """The job API of `system`: REST API, stage, function, jobs table.

    Attributes: `api` (the RestApi), `function`, `role`, `table` (jobs), `log_group`
    (the function's), `access_logs`, `url` (the stage's base URL).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        system: AsyncInferenceSystem,
        props: JobApiProps | None = None,
        user_pool: cognito.IUserPool | None = None,
    ) -> None:
        """Serves every endpoint `system` has when it is created (add them first).
        `user_pool` (or the props' `api_user_pool_arn`) is the Cognito user pool whose
        tokens the API accepts with `api_authorizer=cognito`."""
        super().__init__(scope, construct_id)
        pin_feature_flags(self)
        self.props = props = props or JobApiProps()
        if not system.endpoints:
            raise ConfigError("JobApi needs at least one endpoint; call add_endpoint first.")
        removal_policy = RemovalPolicy.RETAIN if system.props.retain_data else RemovalPolicy.DESTROY
        key = system.key

        # What a job must remember beyond its results record: who, which endpoint, its
        # webhook; and the Idempotency-Keys, each for 24 hours (TTL).
        self.table = dynamodb.Table(
            self,
            "Jobs",
            partition_key=dynamodb.Attribute(
                name=JOBS_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=JOBS_TTL_ATTRIBUTE,
            removal_policy=removal_policy,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        )

        self.log_group, self.role = log_group_and_role(
            self,
            role_description="Job API: submit to the system's endpoints, read results and "
            "jobs, write its logs",
            key=key,
            log_retention_days=system.props.log_retention_days,
            removal_policy=removal_policy,
        )
        stack = Stack.of(self)
        self.function = lambda_.Function(
            self,
            "Function",
            description="The HTTP job API (Powertools REST event handler)",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=function_code("job_api"),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "Powertools", powertools_layer_arn()
                )
            ],
            role=self.role,
            memory_size=props.api_function_memory_mib,
            timeout=FUNCTION_TIMEOUT,
            environment={
                JOBS_TABLE_NAME: self.table.table_name,
                RESULTS_TABLE_NAME: system.pipeline.table.table_name,
                RESULTS_RETENTION_DAYS: str(system.props.results_retention_days),
                INPUT_BUCKET_NAME: system.input_bucket.bucket_name,
                API_ENDPOINTS: stack.to_json_string(
                    {name: endpoint.endpoint_name for name, endpoint in system.endpoints.items()}
                ),
                LOG_LEVEL: "INFO",
                "POWERTOOLS_SERVICE_NAME": "job-api",
            },
            environment_encryption=key,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
        )
        self._grant(system)

        self.access_logs = logs.LogGroup(
            self, "AccessLogs", encryption_key=key, removal_policy=removal_policy
        )
        set_retention(
            self.access_logs,
            props.api_access_log_retention_days,
            setting="api_access_log_retention_days",
            why_shorter="the access logs serve tracing a caller's requests, while every "
            "job's outcome lives in the jobs and results tables",
        )
        self.api = apigateway.RestApi(
            self,
            "Api",
            description="asyncinfer job API: async inference over HTTP",
            endpoint_configuration=apigateway.EndpointConfiguration(
                types=[apigateway.EndpointType.REGIONAL]
            ),
            # Every body reaches the function as the exact bytes sent (base64 in the
            # event), whatever its Content-Type; limits.py of the function says what
            # that costs in size.
            binary_media_types=["*/*"],
            # Access logs need the Region's API Gateway account to name a CloudWatch Logs
            # role (API Gateway Developer Guide, "Set up CloudWatch logging for REST APIs
            # in API Gateway"); CDK creates it, and keeps it when the stack goes.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=props.api_throttling_rate_limit,
                throttling_burst_limit=props.api_throttling_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(_ACCESS_LOG_FORMAT),
                tracing_enabled=True,
            ),
            default_method_options=self._authorization(props, user_pool),
        )
        # The stack output ApiUrl (add_client_outputs) says the same, by a stable name.
        self.api.node.try_remove_child("Endpoint")
        integration = apigateway.LambdaIntegration(
            self.function,
            proxy=True,
            # One permission for the API's methods, not one per method.
            scope_permission_to_method=False,
        )
        for path, methods in ROUTES:
            resource = self.api.root.resource_for_path(path)
            for method in methods:
                resource.add_method(method, integration)
        for response_type, status in GATEWAY_PROBLEMS.items():
            self._problem_response(response_type, status)
        self._problem_response("DEFAULT_4XX", None)
        self._problem_response("DEFAULT_5XX", None)
        self._acknowledge_findings(props, system)

    @property
    def url(self) -> str:
        """The stage's base URL (ends with /): what `ApiUrl` and local.json's apiUrl are."""
        return self.api.url

    def add_client_outputs(self) -> None:
        """Stack outputs: `ApiUrl` (the base URL of the API's paths) and `JobsTableName`."""
        stack = Stack.of(self)
        CfnOutput(stack, "ApiUrl", value=self.url, description="Base URL of the job API")
        CfnOutput(stack, "JobsTableName", value=self.table.table_name, description="Job API's jobs")

    # --- building blocks ---------------------------------------------------------------

    def _authorization(
        self, props: JobApiProps, user_pool: cognito.IUserPool | None
    ) -> apigateway.MethodOptions:
        if props.api_authorizer == "iam":
            return apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM)
        pool = user_pool or (
            cognito.UserPool.from_user_pool_arn(self, "UserPool", props.api_user_pool_arn)
            if props.api_user_pool_arn
            else None
        )
        if pool is None:
            raise ConfigError(
                "Setting 'api_authorizer' is cognito but no user pool is given; set "
                "'api_user_pool_arn' (or pass user_pool to JobApi)."
            )
        authorizer = apigateway.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[pool]
        )
        return apigateway.MethodOptions(
            authorization_type=apigateway.AuthorizationType.COGNITO, authorizer=authorizer
        )

    def _grant(self, system: AsyncInferenceSystem) -> None:
        """Exactly what the routes do, and no more."""
        for endpoint in system.endpoints.values():
            # Invoke, upload to the input bucket (bodies above 128,000 bytes; presigned
            # uploads are signed with this role), write the PENDING record and undo it.
            endpoint.grant_submit(self.function)
        # Records by id and through the indexes, and the outputs they point to (303s).
        system.grant_read_results(self.function)
        # HeadObject of an upload before its job is submitted (HeadObject asks for
        # s3:GetObject: Amazon S3 API Reference, HeadObject, Permissions).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadUploads",
                actions=["s3:GetObject"],
                resources=[system.input_bucket.arn_for_objects("uploads/*")],
            )
        )
        # A submit is one BatchWriteItem across both tables, or with an Idempotency-Key one
        # TransactWriteItems, authorized as the PutItem and DeleteItem it holds (DynamoDB
        # Developer Guide, "Using IAM policies with DynamoDB transactions"); a job is read
        # back with BatchGetItem across both tables.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAndWriteJobs",
                actions=[
                    "dynamodb:PutItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                ],
                resources=[self.table.table_arn],
            )
        )
        self.role.add_to_policy(write_own_logs(self.log_group))

    def _problem_response(self, response_type: str, status: int | None) -> None:
        title = (
            HTTPStatus(status).phrase
            if status is not None
            else ("Client error" if response_type == "DEFAULT_4XX" else "Server error")
        )
        self.api.add_gateway_response(
            f"Problem{''.join(part.capitalize() for part in response_type.split('_'))}",
            type=apigateway.ResponseType.of(response_type),
            status_code=str(status) if status is not None else None,
            response_headers={"Content-Type": f"'{PROBLEM_MEDIA_TYPE}'"},
            templates={"application/json": problem_template(title, status)},
        )

    def _acknowledge_findings(self, props: JobApiProps, system: AsyncInferenceSystem) -> None:
        stage = self.api.deployment_stage
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no "
            "resource scoping; CDK adds these for the job API function's tracing=ACTIVE.",
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::"
            f"{nag_resource(self, system.input_bucket.arn_for_objects('*'))}]",
            "Submitting uploads a large body to the input bucket under its job id and "
            "presigns upload keys per caller; both are keys created per request, so the "
            "grant covers the bucket's objects (InferenceEndpoint.grant_submit).",
        )
        policy = self.role.node.find_child("DefaultPolicy")
        output = system.output_bucket
        for resource, reason in (
            (
                output.arn_for_objects(f"{OUTPUT_PREFIX}*"),
                "GET /v1/jobs/{id}/result redirects to a presigned GET of any job's output "
                "object, one key per inference under output/, none known in advance.",
            ),
            (
                output.arn_for_objects(f"{FAILURE_PREFIX}*"),
                "Failure documents are one object per failed inference under failure/, named "
                "by SageMaker when it fails; reading them is part of reading results.",
            ),
            (
                f"{system.pipeline.table.table_arn}/index/*",
                "GET /v1/jobs lists from both of the results table's indexes (EndpointHistory, "
                "Failures); the grant is to query them, never to write.",
            ),
            (
                system.input_bucket.arn_for_objects("uploads/*"),
                "POST /v1/jobs checks (HeadObject) the upload an Input-Location names; uploads "
                "are one fresh key per POST /v1/uploads under uploads/.",
            ),
        ):
            acknowledge(
                policy, f"AwsSolutions-IAM5[Resource::{nag_resource(self, resource)}]", reason
            )
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "The job API's one function validates every parameter and header against the "
            "OpenAPI document (Powertools, enable_validation) and answers 400 problems; the "
            "body is the model's payload in any media type, which no model could describe.",
        )
        acknowledge(
            stage,
            "AwsSolutions-APIG3",
            "Every method requires SigV4 (IAM) or a Cognito token and the stage throttles; "
            "a WAF web ACL would add a standing monthly cost to a system meant to cost "
            "nothing while idle. Attach one to the stage if your threat model needs it.",
        )
        acknowledge(
            stage,
            "AwsSolutions-APIG6",
            "JSON access logs record every request with its status and API Gateway's error; "
            "execution logging would create a log group API Gateway owns, outside this "
            "stack, unencrypted by the data key and kept forever.",
        )
        acknowledge_guard(
            stage,
            "api_gw_v1_execution_logging_enabled_check",
            "JSON access logs, encrypted with the data key and kept "
            "api_access_log_retention_days, record every request with its status and API "
            "Gateway's error; execution logs would land in a log group API Gateway creates "
            "outside this stack (API-Gateway-Execution-Logs_<api>/<stage>), unencrypted and "
            "kept forever.",
        )
        # The rule accepts a SourceArn that is a string or a Ref/GetAtt of this template;
        # the permission's is this API's execute-api ARN, an Fn::Join of the API's id.
        for permission in self.api.node.find_all():
            if isinstance(permission, lambda_.CfnPermission):
                acknowledge_guard(
                    permission,
                    "lambda_function_public_access_prohibited_check",
                    "Only API Gateway may invoke the job API's function, and only for this "
                    "API's methods: the permission's SourceArn is the API's execute-api "
                    "ARN, built with Fn::Join from the API's id, which the rule cannot "
                    "evaluate.",
                )
        skip_checkov(
            stage,
            "CKV2_AWS_4",
            "JSON access logs record every request with its status and API Gateway's error; "
            "execution logs would land in a log group API Gateway creates, unencrypted and "
            "without retention.",
        )
        skip_checkov(
            stage,
            "CKV_AWS_120",
            "Job status and results change from one request to the next; a cache would "
            "answer PENDING after the job finished, and costs per hour even when idle.",
        )
        skip_checkov(
            stage,
            "CKV2_AWS_29",
            "Every method requires SigV4 (IAM) or a Cognito token and the stage throttles; "
            "a WAF web ACL would add a standing monthly cost to an idle system.",
        )
        skip_checkov(
            stage,
            "CKV2_AWS_51",
            "Clients authenticate with SigV4 or a Cognito token on a regional endpoint; a "
            "client certificate authenticates API Gateway to an HTTP backend, and the "
            "backend here is a Lambda function invoked by AWS.",
        )
        if props.api_authorizer == "iam":
            acknowledge(
                self.api,
                "AwsSolutions-COG4",
                "Every method requires SigV4 (AWS_IAM): callers are IAM principals, as for "
                "every other call of the system; a Cognito user pool authorizer is the "
                "setting api_authorizer=cognito.",
            )
        cloud_watch_role = self.api.node.try_find_child("CloudWatchRole")
        if cloud_watch_role is not None:
            acknowledge(
                cloud_watch_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "API Gateway's account-level logging role is the one AWS documents for "
                "access logs (AmazonAPIGatewayPushToCloudWatchLogs); API Gateway writes "
                "the log groups it is given, which the managed policy does not name.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "API Gateway invokes the job API synchronously and returns its errors to the "
            "caller; a function DLQ applies to asynchronous invocations, which never happen.",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_116",
            "API Gateway invokes the job API synchronously; errors go back to the caller, "
            "and a function DLQ serves asynchronous invocations only.",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_115",
            "The stage's throttling (api_throttling_rate_limit, burst) bounds the job API's "
            "invocations; reserved concurrency would take capacity from the account pool.",
        )
        acknowledge_guard(
            self.function,
            "lambda_inside_vpc_check",
            "The job API calls only SageMaker, DynamoDB and S3 APIs over TLS with IAM auth; "
            "inside a VPC it would need NAT or interface endpoints, an hourly cost on a "
            "stack meant to cost nothing while idle, without keeping any data off AWS's "
            "networks.",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_117",
            "The job API reaches only SageMaker, DynamoDB and S3 over TLS with IAM auth; a "
            "VPC would add NAT or interface endpoints (standing cost) and no protection.",
        )
        # CDK makes the function DependsOn its role although Role: GetAtt already orders
        # them; the duplicate is harmless and not removable through the L2 (W3005).
        ignore_cfn_lint(self.function, "W3005")


# One JSON object per request (API Gateway Developer Guide, "$context variables for data
# models, authorizers, mapping templates, and access logging").
_ACCESS_LOG_FORMAT: Final = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTimeEpoch",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.userArn",
        "cognitoSub": "$context.authorizer.claims.sub",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "path": "$context.path",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "error": "$context.error.responseType",
        "errorMessage": "$context.error.message",
        "userAgent": "$context.identity.userAgent",
    },
    separators=(",", ":"),
)
