"""Configuration for a managed Kafka (SASL_SSL) and for real AWS S3, without either (the
Kafka clients built from it: tests/integration/test_kafka_clients.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from functions.errors import ConfigurationError
from runtime.config import FunctionSettings
from runtime.services import s3_client
from tests.helpers.managed_kafka import CONFLUENT_CLOUD


def test_a_ca_bundle_and_scram_are_options() -> None:
    settings = FunctionSettings.from_env(
        {
            **CONFLUENT_CLOUD,
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SSL_CA_LOCATION": "/etc/ssl/msk-ca.pem",
        }
    )
    connection = settings.kafka_connection()
    assert connection["sasl.mechanism"] == "SCRAM-SHA-512"
    assert connection["ssl.ca.location"] == "/etc/ssl/msk-ca.pem"


def test_the_local_default_is_plaintext_without_credentials() -> None:
    assert FunctionSettings.from_env({}).kafka_connection() == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "PLAINTEXT",
    }


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"KAFKA_SASL_PASSWORD": ""}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL='TLS'"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM='GSSAPI'"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml'"),
    ],
)
def test_incomplete_kafka_security_names_what_is_missing(
    change: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        FunctionSettings.from_env({**CONFLUENT_CLOUD, **change})
    assert complaint in str(raised.value)
    assert "api-secret" not in str(raised.value)


def test_real_aws_s3_has_no_endpoint_override_and_no_made_up_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-REAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    settings = FunctionSettings.from_env(
        {"S3_ENDPOINT_URL": "", "AWS_DEFAULT_REGION": "eu-central-1"}
    )
    assert settings.s3_endpoint_url is None
    client = s3_client(settings)
    assert client.meta.endpoint_url == "https://s3.eu-central-1.amazonaws.com"
    assert client.meta.region_name == "eu-central-1"
    credentials = client._request_signer._credentials  # what the requests are signed with
    assert credentials.access_key == "AKIA-REAL"


def test_the_token_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    assert FunctionSettings.from_env({"BILLING_TOKEN_FILE": str(secret)}).token == "from-a-file"
    given = {"BILLING_TOKEN": "direct", "BILLING_TOKEN_FILE": str(secret)}
    assert FunctionSettings.from_env(given).token == "direct"
    missing = FunctionSettings.from_env({"BILLING_TOKEN_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigurationError, match="cannot be read"):
        _ = missing.token  # read when first needed, never while the settings are built


def test_a_put_is_sent_whole_without_waiting_for_the_servers_go_ahead(
    unit_settings: FunctionSettings,
) -> None:
    """``Expect: 100-continue`` would cost each write a second round trip to the store."""
    client = s3_client(unit_settings)
    sent: list[Mapping[str, Any]] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.headers))
    with mock_aws():
        client.create_bucket(Bucket="bills")
        client.put_object(Bucket="bills", Key="k", Body=b"a bill", IfNoneMatch="*")
    assert sent, "the put was not sent"
    assert "Expect" not in sent[-1]


def test_the_times_s3_sends_are_read_to_the_instant_without_dateutils_parser(
    unit_settings: FunctionSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's default parser for any date form cost a quarter of a GET's client CPU."""
    client = s3_client(unit_settings)
    with mock_aws():
        client.create_bucket(Bucket="bills")
        client.put_object(Bucket="bills", Key="k", Body=b"a bill")
        expected = client.head_object(Bucket="bills", Key="k")["LastModified"]

        def refused(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("a time S3 sent went through botocore's default parser")

        monkeypatch.setattr("botocore.parsers.DEFAULT_TIMESTAMP_PARSER", refused)
        header = client.get_object(Bucket="bills", Key="k")["LastModified"]
        (listed,) = client.list_objects_v2(Bucket="bills")["Contents"]
    assert header == expected
    assert listed["LastModified"].replace(microsecond=0) == expected
    assert header.utcoffset() is not None
