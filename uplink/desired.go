package uplink

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/wire"
)

// onDesired hands the retained desired firmware to Options.Desired. One that does not
// decode, or (with HQKey) is not signed by HQ for this till, is refused with an event and
// not handed on.
func (c *Client) onDesired(_ mqtt.Client, m mqtt.Message) {
	d, err := wire.DecodeDesired(m.Payload())
	if err == nil && d.Version != "" && c.o.HQKey != nil {
		err = wire.VerifyDesired(c.o.HQKey, &d, c.store, c.till)
	}
	if err != nil {
		c.o.Logger.Warn("uplink: desired firmware refused", "err", err)
		c.raise(wire.EventUpdateProgress, wire.SeverityError, wire.UpdateEvent(wire.UpdateReport{Version: d.Version, Rollout: d.Rollout, Step: wire.StepRefused, Error: err.Error()}).Detail)
		return
	}
	c.o.Desired(d)
}
