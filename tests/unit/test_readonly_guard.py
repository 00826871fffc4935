"""The read-only guard is an allow-list of the exact reads the product makes, and refuses before anything is sent.

The endpoint is a stub HTTP server that records every request and answers 400 (so a call that
got through ends as a ClientError at once, without retries). The full local AWS proof is in
tests/integration/test_local_aws.py.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from include.itsm.adapters.aws import (
    READ_OPERATIONS,
    AwsAccess,
    AwsSettings,
    ReadOnlyViolation,
    check_read_only,
    session_for,
)


class _Recorder(BaseHTTPRequestHandler):
    received: list[str] = []

    def _answer(self) -> None:
        self.received.append(f"{self.command} {self.path}")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<Response><Errors><Error><Code>Stub</Code><Message>stub</Message></Error></Errors></Response>"
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def stub_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def received() -> list[str]:
    _Recorder.received.clear()
    return _Recorder.received


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(
        region_name="ap-southeast-2",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def access(stub_endpoint) -> AwsAccess:
    return AwsAccess(_settings(stub_endpoint))


@pytest.mark.parametrize(
    ("service", "call", "kwargs"),
    [
        ("ec2", "run_instances", {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1}),
        ("ec2", "terminate_instances", {"InstanceIds": ["i-0123456789abcdef0"]}),
        ("ec2", "get_password_data", {"InstanceId": "i-0123456789abcdef0"}),
        ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
        ("sts", "get_session_token", {}),
        ("sts", "get_federation_token", {"Name": "x"}),
        ("secretsmanager", "get_secret_value", {"SecretId": "db"}),
        ("ssm", "get_parameter", {"Name": "/db/password", "WithDecryption": True}),
        ("kms", "decrypt", {"CiphertextBlob": b"x"}),
        # read-named, yet not a read the product makes: an allow-list refuses them, a prefix rule did not
        ("ssm", "get_parameter", {"Name": "/app/colour"}),
        ("ec2", "describe_regions", {}),
        (
            "s3",
            "select_object_content",
            {
                "Bucket": "b",
                "Key": "k",
                "Expression": "select * from s3object",
                "ExpressionType": "SQL",
                "InputSerialization": {"CSV": {}},
                "OutputSerialization": {"CSV": {}},
            },
        ),
        (
            "cloudwatch",
            "put_metric_alarm",
            {"AlarmName": "a", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"},
        ),
    ],
)
def test_guard_refuses_writes_and_secret_reads(access, received, service, call, kwargs):
    with pytest.raises(ReadOnlyViolation) as refused:
        getattr(access.client(service), call)(**kwargs)
    assert not isinstance(refused.value, ClientError)
    assert received == [] and access.api_calls == {}


def test_guard_refuses_presigned_urls_outside_the_allow_list(access):
    """A presigned URL is a request someone else sends: it passes the same guard (even a plain object read
    is refused: reading object contents is not something the product does)."""
    for operation in ("put_object", "get_object"):
        with pytest.raises(ReadOnlyViolation):
            access.client("s3").generate_presigned_url(operation, Params={"Bucket": "b", "Key": "k"})
    assert access.client("s3").generate_presigned_url("list_buckets")


@pytest.mark.parametrize(
    ("service", "call", "kwargs"),
    [
        ("ec2", "describe_instances", {}),
        ("s3", "list_buckets", {}),
        (
            "sts",
            "assume_role",
            {"RoleArn": "arn:aws:iam::318274650123:role/OrganizationAccountAccessRole", "RoleSessionName": "test"},
        ),
        ("sts", "get_caller_identity", {}),
        ("cloudwatch", "describe_alarms", {}),
    ],
)
def test_guard_lets_reads_through(access, received, service, call, kwargs):
    with pytest.raises(ClientError):  # the stub's 400: the call left the process
        getattr(access.client(service), call)(**kwargs)
    assert len(received) == 1
    assert access.api_calls[f"{service}:{''.join(p.title() for p in call.split('_'))}"] == 1


def test_one_session_per_connection_and_mode_and_the_write_session_is_unguarded(stub_endpoint):
    settings = _settings(stub_endpoint)
    assert session_for(settings, read_only=True) is session_for(settings, read_only=True)
    assert session_for(settings, read_only=False) is not session_for(settings, read_only=True)
    check_read_only("sts", "AssumeRole")
    with pytest.raises(ReadOnlyViolation):
        check_read_only("ec2", "CreateTags")


IAM = Path(__file__).resolve().parents[2] / "deploy" / "iam"
# IAM action names that differ from the API operation (service prefix or operation)
IAM_NAMES = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
}


def test_the_allow_list_is_exactly_what_the_read_policies_grant():
    """The guard and the IAM policies a deployment attaches say the same thing: one list, two places."""
    granted = set()
    for name in ("discovery-role.json", "member-read-role.json"):
        for statement in json.loads((IAM / name).read_text())["Statement"]:
            granted |= set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    allowed = {IAM_NAMES.get(op, f"{op[0]}:{op[1]}") for op in READ_OPERATIONS}
    assert allowed == granted


def test_write_session_sends_writes(stub_endpoint, received):
    writer = AwsAccess(_settings(stub_endpoint), read_only=False)
    with pytest.raises(ClientError):
        writer.client("ec2").terminate_instances(InstanceIds=["i-0123456789abcdef0"])
    assert len(received) == 1
