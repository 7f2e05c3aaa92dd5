package hq

import "context"

// TillCheck is the outcome of Check for one till.
type TillCheck struct {
	Store   string `json:"store"`
	Till    string `json:"till"`
	Through uint64 `json:"through"` // the till's watermark
	Entries int    `json:"entries"` // checked before the chain verified or broke
	Error   string `json:"error,omitempty"`
}

// CheckAll runs Check on every till of st, in st's order, and returns every outcome, the
// failed ones included; it returns an error only when st cannot list its tills.
func CheckAll(ctx context.Context, st Store) ([]TillCheck, error) {
	ts, err := st.Tills(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TillCheck, 0, len(ts))
	for _, t := range ts {
		c := TillCheck{Store: t.Store, Till: t.Till, Through: t.Through}
		n, err := Check(ctx, st, t.TillKey)
		if c.Entries = n; err != nil {
			c.Error = err.Error()
		}
		out = append(out, c)
	}
	return out, nil
}
