package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// ReadCatalog reads a store's catalog from a JSON file (the wire form; "v" may be left
// out) and validates it as a whole.
func ReadCatalog(name string) (wire.Catalog, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return wire.Catalog{}, fmt.Errorf("hq: catalog: %w", err)
	}
	var cat wire.Catalog
	if err := json.Unmarshal(b, &cat); err != nil {
		return wire.Catalog{}, fmt.Errorf("hq: catalog: %s: %w", name, err)
	}
	cat.V = wire.Version
	if err := cat.Validate(); err != nil {
		return wire.Catalog{}, fmt.Errorf("hq: catalog: %s: %w", name, err)
	}
	return cat, nil
}

// PublishCatalog publishes cat as its store's retained catalog, signed with o.SignKey
// when that is set (a till provisioned with HQ's key applies only a signed one). It
// returns once the broker has it. A catalog that does not validate is not published.
func PublishCatalog(ctx context.Context, o Options, cat wire.Catalog) error {
	cat.V = wire.Version
	if err := cat.Validate(); err != nil {
		return fmt.Errorf("hq: catalog: %w", err)
	}
	if o.SignKey != nil {
		if err := wire.SignCatalog(o.SignKey, &cat); err != nil {
			return fmt.Errorf("hq: catalog: %w", err)
		}
	}
	p, err := wire.EncodeCatalog(cat)
	if err != nil {
		return fmt.Errorf("hq: catalog: %w", err)
	}
	return o.publish(ctx, "catalog", []retained{{wire.Topics{Prefix: o.Prefix}.Catalog(cat.Store), p}})
}

// PublishAcks publishes each till's retained ack through its watermark (signed with
// o.SignKey when that is set), as the consumer does after a commit: after an import, the
// tills learn what HQ holds now rather than when they next resend. A zero watermark is
// not published. It returns once the broker has every ack.
func PublishAcks(ctx context.Context, o Options, through map[TillKey]uint64) error {
	topics := wire.Topics{Prefix: o.Prefix}
	var acks []retained
	for k, v := range through {
		if v > 0 {
			acks = append(acks, retained{topics.Ack(k.Store, k.Till), wire.AckPayload(o.SignKey, k.Store, k.Till, v)})
		}
	}
	return o.publish(ctx, "acks", acks)
}

// retained is a message HQ publishes retained.
type retained struct {
	topic   string
	payload []byte
}

// publish publishes msgs, QoS 1 and retained, in one brief session, and returns once the
// broker has every one of them or the first that it did not take.
func (o Options) publish(ctx context.Context, role string, msgs []retained) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hq: %s: %w", role, err)
	}
	cli, err := o.connect(mqttconn.Brief, role, nil)
	if err != nil {
		return err
	}
	defer cli.Disconnect(250)
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("hq: %s: %w", role, err)
		}
		if err := o.wait(cli.Publish(m.topic, 1, true, m.payload), role, "publish "+m.topic); err != nil {
			return err
		}
	}
	return nil
}
