"""Configuration for a managed Kafka (SASL_SSL) and for real AWS S3, without either."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from quixstreams.kafka.configuration import ConnectionConfig

import runtime.batches
from functions.errors import ConfigurationError
from runtime.batches import build_application
from runtime.config import Settings
from runtime.publisher import KafkaPublisher
from runtime.services import s3_client
from runtime.triggers import BY_FUNCTION

CONFLUENT_CLOUD = {
    "KAFKA_BOOTSTRAP_SERVERS": "pkc-123.eu-west-1.aws.confluent.cloud:9092",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "PLAIN",
    "KAFKA_SASL_USERNAME": "API-KEY",
    "KAFKA_SASL_PASSWORD": "api-secret",
}


def test_a_managed_kafka_gets_sasl_ssl_on_every_client() -> None:
    settings = Settings.from_env(CONFLUENT_CLOUD)
    expected = {
        "bootstrap.servers": "pkc-123.eu-west-1.aws.confluent.cloud:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "API-KEY",
        "sasl.password": "api-secret",
    }
    assert settings.kafka_connection() == expected
    # The coordinator's and the timer's transactional producer.
    assert expected.items() <= KafkaPublisher(settings)._config().items()
    # quix-streams' consumer, producer and admin all take the connection from here.
    connection = ConnectionConfig.from_librdkafka_dict(settings.kafka_connection())
    assert connection.as_librdkafka_dict() == {**expected, "security.protocol": "sasl_ssl"}


class _Built(Exception):
    """Stops building the application once its arguments are seen: no broker is here."""


def test_the_quix_application_is_built_with_the_managed_connection(
    context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def application(**arguments: Any) -> None:
        raise _Built(arguments["broker_address"])

    monkeypatch.setattr(runtime.batches, "Application", application)
    settings = Settings.from_env(CONFLUENT_CLOUD)
    with pytest.raises(_Built) as built:
        build_application(BY_FUNCTION["engine-start"], settings)
    config = built.value.args[0].as_librdkafka_dict()
    assert config["security.protocol"] == "sasl_ssl"
    assert (config["sasl.username"], config["sasl.password"]) == ("API-KEY", "api-secret")


def test_a_ca_bundle_and_scram_are_options() -> None:
    settings = Settings.from_env(
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
    assert Settings.from_env({}).kafka_connection() == {
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
        Settings.from_env({**CONFLUENT_CLOUD, **change})
    assert complaint in str(raised.value)
    assert "api-secret" not in str(raised.value)


def test_real_aws_s3_has_no_endpoint_override_and_no_made_up_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-REAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    settings = Settings.from_env({"S3_ENDPOINT_URL": "", "AWS_DEFAULT_REGION": "eu-central-1"})
    assert settings.s3_endpoint_url is None
    client = s3_client(settings)
    assert client.meta.endpoint_url == "https://s3.eu-central-1.amazonaws.com"
    assert client.meta.region_name == "eu-central-1"
    credentials = client._request_signer._credentials  # what the requests are signed with
    assert credentials.access_key == "AKIA-REAL"


def test_the_token_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    assert Settings.from_env({"BILLING_TOKEN_FILE": str(secret)}).auth_token == "from-a-file"
    given = {"BILLING_TOKEN": "direct", "BILLING_TOKEN_FILE": str(secret)}
    assert Settings.from_env(given).auth_token == "direct"
    with pytest.raises(ConfigurationError, match="cannot be read"):
        Settings.from_env({"BILLING_TOKEN_FILE": str(tmp_path / "missing")})


def test_a_put_is_sent_whole_without_waiting_for_the_servers_go_ahead(
    unit_settings: Settings,
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
    unit_settings: Settings, monkeypatch: pytest.MonkeyPatch
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
