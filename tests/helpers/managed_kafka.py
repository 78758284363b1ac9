"""A managed Kafka's settings, as Confluent Cloud gives them (no such cluster is reached)."""

CONFLUENT_CLOUD = {
    "KAFKA_BOOTSTRAP_SERVERS": "pkc-123.eu-west-1.aws.confluent.cloud:9092",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "PLAIN",
    "KAFKA_SASL_USERNAME": "API-KEY",
    "KAFKA_SASL_PASSWORD": "api-secret",
}
