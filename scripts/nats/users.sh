#!/usr/bin/env bash
# users.sh writes the NATS users of the fleet (users.conf of scripts/nats/tillbox.conf):
# head office, the fleet viewers and one user per till, each named by its client
# certificate's subject (verify_and_map), with exactly the topics of
# scripts/mosquitto/acl, in NATS's form (MQTT tillbox/v1/s042/t03/tx is the subject
# tillbox.v1.s042.t03.tx; + is *).
#
#   scripts/nats/users.sh s042/t01 s042/t02 s043/t01 > /etc/nats/tillbox/users.conf
#   scripts/nats/users.sh $(ls /var/lib/tillhq/keys | sed 's|_|/|') > users.conf
#
# Then `nats-server --signal reload` on every node. PREFIX (default tillbox.v1) is the
# topic prefix in NATS's form.
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
  # Head office (tillhq serve, cmd, catalog): every till's tx through JetStream, acks,
  # statuses, events, commands and their results, catalogs.
  { user: "CN=tillhq,O=tillbox", permissions: {
      publish:   ["$p.*.*.ack", "$p.*.*.cmd", "$p.*.catalog", "\$JS.API.>", "\$JS.ACK.TILLBOX_TX.>"]
      subscribe: ["$p.*.*.tx", "$p.*.*.status", "$p.*.*.event", "$p.*.*.cmd.result", "_INBOX.>"] } }
  # Fleet viewers (tillhq fleet, monitoring): read only.
  { user: "CN=fleet,O=tillbox", permissions: {
      publish:   []
      subscribe: ["$p.*.*.status", "$p.*.*.event", "$p.*.*.cmd.result"] } }
HEAD
for id in "$@"; do
  s="${id%/*}" t="${id#*/}"
  cat <<TILL
  { user: "CN=$s/$t,O=tillbox", permissions: {
      publish:   ["$p.$s.$t.tx", "$p.$s.$t.status", "$p.$s.$t.event", "$p.$s.$t.cmd.result"]
      subscribe: ["$p.$s.$t.ack", "$p.$s.$t.cmd", "$p.$s.catalog"] } }
TILL
done
echo "]"
