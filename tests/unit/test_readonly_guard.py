"""The read-only guard refuses before anything is sent.

The endpoint is a stub HTTP server that records every request and answers 400 (so a call that
got through ends as a ClientError at once, without retries). The full local AWS proof is in
tests/integration/test_local_aws.py.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from include.itsm.adapters.aws import AwsAccess, AwsSettings, ReadOnlyViolation, check_read_only, shared_session


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
    return AwsSettings(region_name="ap-southeast-2", endpoint_url=endpoint,
                       aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def access(stub_endpoint) -> AwsAccess:
    return AwsAccess(_settings(stub_endpoint))


@pytest.mark.parametrize(("service", "call", "kwargs"), [
    ("ec2", "run_instances", {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1}),
    ("ec2", "terminate_instances", {"InstanceIds": ["i-0123456789abcdef0"]}),
    ("ec2", "get_password_data", {"InstanceId": "i-0123456789abcdef0"}),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
    ("sts", "get_session_token", {}),
    ("sts", "get_federation_token", {"Name": "x"}),
    ("secretsmanager", "get_secret_value", {"SecretId": "db"}),
    ("ssm", "get_parameter", {"Name": "/db/password", "WithDecryption": True}),
    ("kms", "decrypt", {"CiphertextBlob": b"x"}),
    ("cloudwatch", "put_metric_alarm", {"AlarmName": "a", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"}),
])
def test_guard_refuses_writes_and_secret_reads(access, received, service, call, kwargs):
    with pytest.raises(ReadOnlyViolation) as refused:
        getattr(access.client(service), call)(**kwargs)
    assert not isinstance(refused.value, ClientError)
    assert received == [] and access.api_calls == {}


def test_guard_refuses_presigned_write_urls(access):
    with pytest.raises(ReadOnlyViolation):
        access.client("s3").generate_presigned_url("put_object", Params={"Bucket": "b", "Key": "k"})
    assert access.client("s3").generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})


@pytest.mark.parametrize(("service", "call", "kwargs"), [
    ("ec2", "describe_instances", {}),
    ("s3", "list_buckets", {}),
    ("sts", "assume_role", {"RoleArn": "arn:aws:iam::318274650123:role/OrganizationAccountAccessRole",
                            "RoleSessionName": "test"}),
    ("sts", "get_caller_identity", {}),
    ("ssm", "get_parameter", {"Name": "/app/colour"}),
])
def test_guard_lets_reads_through(access, received, service, call, kwargs):
    with pytest.raises(ClientError):  # the stub's 400: the call left the process
        getattr(access.client(service), call)(**kwargs)
    assert len(received) == 1
    assert access.api_calls[f"{service}:{''.join(p.title() for p in call.split('_'))}"] == 1


def test_guard_is_on_the_shared_session_and_the_write_session_is_unguarded():
    assert shared_session() is shared_session()
    assert shared_session(read_only=False) is not shared_session()
    check_read_only("sts", "AssumeRole")
    with pytest.raises(ReadOnlyViolation):
        check_read_only("ec2", "CreateTags")


def test_write_session_sends_writes(stub_endpoint, received):
    writer = AwsAccess(_settings(stub_endpoint), read_only=False)
    with pytest.raises(ClientError):
        writer.client("ec2").terminate_instances(InstanceIds=["i-0123456789abcdef0"])
    assert len(received) == 1
