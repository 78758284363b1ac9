"""The Kafka clients built for a managed Kafka (SASL_SSL): no broker is reached, but the
clients are Kafka's own library, so these are not unit tests."""

from __future__ import annotations

from typing import Any

import pytest
from quixstreams.kafka.configuration import ConnectionConfig

from runtime.config import StackSettings
from runtime.kafka.clients import build_application
from runtime.kafka.publisher import KafkaPublisher
from runtime.triggers import BY_FUNCTION
from tests.helpers.managed_kafka import CONFLUENT_CLOUD


def test_a_managed_kafka_gets_sasl_ssl_on_every_client() -> None:
    settings = StackSettings.from_env(CONFLUENT_CLOUD)
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def application(**arguments: Any) -> None:
        raise _Built(arguments["broker_address"])

    monkeypatch.setattr("quixstreams.Application", application)
    settings = StackSettings.from_env(CONFLUENT_CLOUD)
    with pytest.raises(_Built) as built:
        build_application(BY_FUNCTION["engine-start"], settings)
    config = built.value.args[0].as_librdkafka_dict()
    assert config["security.protocol"] == "sasl_ssl"
    assert (config["sasl.username"], config["sasl.password"]) == ("API-KEY", "api-secret")
