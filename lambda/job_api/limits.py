"""How large a request body the API takes, and why.

API Gateway hands the body to Lambda inside the proxy event. A REST API takes payloads up to
10 MB (API Gateway Developer Guide, "Amazon API Gateway quotas": Payload size, 10 MB, not
adjustable), but a synchronous Lambda invocation's request is at most 6 MB (Lambda Developer
Guide, "Lambda quotas": Invocation payload (request and response), 6 MB each for
synchronous; Invoke API reference: "For synchronous invocations, the maximum payload size is
6 MB"; Lambda answers larger events with RequestEntityTooLarge, "Request must be smaller than
6291456 bytes"). The API treats every media type as binary (`*/*`, so the function gets the
exact bytes whatever the Content-Type: API Gateway Developer Guide, "Binary media types for
REST APIs in API Gateway"), and API Gateway base64-encodes a binary body for a Lambda proxy
integration: 4 characters per 3 bytes.

So the largest body is 3/4 of Lambda's 6,291,456-byte request, less what the rest of the
event takes (headers, at most 10,240 bytes of request line and headers per API Gateway's
quotas, twice over as `headers` and `multiValueHeaders`, plus the request context): the API
takes 4,500,000 bytes (6,000,000 characters of base64), leaving 291,456 bytes for the rest.
A larger body is answered 413: by the function up to where the event still fits Lambda's
limit (about 4.7 MB), by API Gateway beyond it (Lambda's refusal, and above 10 MB API
Gateway's own limit, both 413). Larger payloads, up to SageMaker's 1 GB, go through
POST /v1/uploads.
"""

from __future__ import annotations

from typing import Final

LAMBDA_SYNC_REQUEST_BYTES: Final = 6_291_456
API_GATEWAY_PAYLOAD_BYTES: Final = 10_485_760
MAX_BODY_BYTES: Final = 4_500_000
# A presigned upload URL works this long; S3 caps a presigned URL at the signing
# credentials' own lifetime (Amazon S3 User Guide, "Sharing objects with presigned URLs").
UPLOAD_URL_SECONDS: Final = 15 * 60
