#!/bin/bash
# Creates every hub topic and its dead-letter topic (hub_contracts.ALL_TOPICS + ".dlq"),
# idempotently. Runs in the apache/kafka image (compose: service "topics"; Kubernetes: Job
# "hub-topics", which carries a copy of this file in ConfigMap "hub-topics-script"; a test
# keeps the copy identical and the list equal to the contracts).
#
# "bounded": the topic carries credential ciphertext (hub_contracts.CREDENTIAL_TOPICS, and its
# dead letters hold the same records), so its retention is capped and re-applied on every run.
set -euo pipefail

: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}"
PARTITIONS="${TOPIC_PARTITIONS:-6}"
REPLICATION="${TOPIC_REPLICATION_FACTOR:-1}"
CREDENTIAL_RETENTION_MS="${CREDENTIAL_RETENTION_MS:-259200000}" # 3 days
BIN="${KAFKA_BIN:-/opt/kafka/bin}"

create() {
  local topic="$1" retention="$2"
  "$BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" --create --if-not-exists \
    --topic "$topic" --partitions "$PARTITIONS" --replication-factor "$REPLICATION"
  if [ "$retention" = bounded ]; then
    "$BIN/kafka-configs.sh" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" --alter \
      --entity-type topics --entity-name "$topic" \
      --add-config "retention.ms=$CREDENTIAL_RETENTION_MS"
  fi
}

create connection.requested bounded
create connection.requested.dlq bounded
create connection.established bounded
create connection.established.dlq bounded
create connection.failed default
create connection.failed.dlq default
create token.expiring bounded
create token.expiring.dlq bounded
create token.refreshed bounded
create token.refreshed.dlq bounded
create connection.check_due bounded
create connection.check_due.dlq bounded
create connection.unhealthy default
create connection.unhealthy.dlq default
create connection.recovered default
create connection.recovered.dlq default
create connection.disconnected bounded
create connection.disconnected.dlq bounded
create connection.checked default
create connection.checked.dlq default

echo "hub topics ready"
