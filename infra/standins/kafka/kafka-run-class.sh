#!/bin/bash
# Runs one class of Kafka's jars with the options the distribution's script of this name
# reads (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS); no JMX or
# GC log. A tool's JVM starts light (the health check runs one every few seconds); the broker
# gets the distribution's options from kafka-server-start.sh.
exec java ${KAFKA_HEAP_OPTS:--Xmx256M} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml} \
  ${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' "$@"
