package drivers

// SendNewest sends ev on ch without blocking. When ch is full it drops the oldest event
// to make room, so a consumer that falls behind loses old events, never the newest, and
// the last event it reads carries the current status. ch must be buffered and the caller
// its only sender at the time (drivers call it with the lock that guards their status
// held); then ev is always delivered.
func SendNewest[E any](ch chan E, ev E) {
	select {
	case ch <- ev:
		return
	default:
	}
	select {
	case <-ch:
	default: // the consumer took one meanwhile
	}
	select {
	case ch <- ev:
	default:
	}
}
