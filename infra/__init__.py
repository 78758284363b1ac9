"""Infrastructure: the local Kafka broker, the S3 server, provisioning, the process stack."""
