package mqttconn

import "github.com/eclipse/paho.mqtt.golang/packets"

// DiscardStore is a paho Store that keeps nothing. paho stores every QoS 1 message it
// sends or receives until its acknowledgement, only to send it again when it resumes a
// session; a client with a clean session and no automatic reconnect (the till's and HQ's:
// each session is a new client) never resumes one, so the store is work for nothing. The
// till's outbox is its ledger and HQ's is the tills' ledgers: what a lost session had in
// flight is sent again from there.
type DiscardStore struct{}

func (DiscardStore) Open()                             {}
func (DiscardStore) Put(string, packets.ControlPacket) {}
func (DiscardStore) Get(string) packets.ControlPacket  { return nil }
func (DiscardStore) All() []string                     { return nil }
func (DiscardStore) Del(string)                        {}
func (DiscardStore) Close()                            {}
func (DiscardStore) Reset()                            {}
