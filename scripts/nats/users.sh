#!/usr/bin/env bash
# users.sh writes the NATS users of the fleet (users.conf of scripts/nats/tillbox.conf):
# head office, the fleet viewers and one user per till, each named by its client
# certificate's subject (verify_and_map: CN=s042/t03,O=tillbox), with exactly the topics of
# scripts/mosquitto/acl, in NATS's form (MQTT tillbox/v1/s042/t03/tx is the subject
# tillbox.v1.s042.t03.tx, cmd/result is cmd.result; + is *).
#
#   scripts/nats/users.sh s042/t01 s042/t02 s043/t01 > /etc/nats/tillbox/users.conf
#   scripts/nats/users.sh $(ls /var/lib/tillhq/keys | sed 's|_|/|') > users.conf
#
# Then `nats-server --signal reload` on every node. PREFIX (default tillbox.v1) is the
# topic prefix in NATS's form.
#
# Beyond the ACL, what NATS itself needs: every MQTT user may subscribe to $MQTT.sub.>,
# the subjects the server delivers QoS 1 subscriptions on (an MQTT client cannot name them:
# NATS refuses such a filter). Tills and fleet viewers connect only over MQTT
# (allowed_connection_types), so their certificates open no NATS session on the client
# port, where $MQTT.sub.> would let them read others' deliveries. Head office's account
# also speaks NATS: JetStream's API, the acks of the tx stream, and its replies (_INBOX).
set -euo pipefail
p="${PREFIX:-tillbox.v1}"
for id in "$@"; do
  if ! [[ "$id" =~ ^[a-z0-9-]{1,32}/[a-z0-9-]{1,32}$ ]]; then
    echo "users.sh: $id: want STORE/TILL, each 1-32 of [a-z0-9-]" >&2
    exit 2
  fi
done
cat <<HEAD
# Written by scripts/nats/users.sh: do not edit by hand.
users = [
  # Head office (tillhq serve, cmd, catalog, rollouts, renewals): every till's tx (through
  # JetStream), acks, statuses, events, commands and their results, catalogs, desired
  # firmware, certificate renewals.
  { user: "CN=tillhq,O=tillbox", allowed_connection_types: ["STANDARD", "MQTT"], permissions: {
      publish:   ["$p.*.*.tx", "$p.*.*.ack", "$p.*.*.held", "$p.*.*.cmd", "$p.*.*.desired", "$p.*.catalog", "$p.*.*.cert",
                  "\$JS.API.>", "\$JS.ACK.TILLBOX_TX.>"]
      subscribe: ["$p.*.*.tx", "$p.*.*.status", "$p.*.*.event", "$p.*.*.cmd.result", "$p.*.*.renew",
                  "\$MQTT.sub.>", "_INBOX.>"] } }
  # Fleet viewers (tillhq fleet, monitoring): read only.
  { user: "CN=fleet,O=tillbox", allowed_connection_types: ["MQTT"], permissions: {
      publish:   []
      subscribe: ["$p.*.*.status", "$p.*.*.event", "$p.*.*.cmd.result", "\$MQTT.sub.>"] } }
HEAD
for id in "$@"; do
  s="${id%/*}" t="${id#*/}"
  cat <<TILL
  { user: "CN=$s/$t,O=tillbox", allowed_connection_types: ["MQTT"], permissions: {
      publish:   ["$p.$s.$t.tx", "$p.$s.$t.status", "$p.$s.$t.event", "$p.$s.$t.cmd.result", "$p.$s.$t.renew"]
      subscribe: ["$p.$s.$t.ack", "$p.$s.$t.held", "$p.$s.$t.cmd", "$p.$s.$t.cert", "$p.$s.$t.desired", "$p.$s.catalog", "\$MQTT.sub.>"] } }
TILL
done
echo "]"
