package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"tillbox/uplink/wire"
)

// BenchmarkRolloutTick measures one controller step of a rollout of 5000 tills on bbolt,
// every till asked and downloading: each tick takes the reports that arrived, reads each
// unsettled till's new journal entries and, when something changed, rewrites the rollout.
func BenchmarkRolloutTick(b *testing.B) {
	st, err := OpenBolt(filepath.Join(b.TempDir(), "hq.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	docs, err := OpenDocs(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	const n = 5000
	r := Rollout{ID: "bench", Release: Release{Version: "2.0.0", SHA256: fmt.Sprintf("%064d", 0), Size: 1 << 20},
		URL: "http://hq/x.tbx", Stages: []int{100}, State: RolloutRunning, StageStarted: time.Now(), Created: time.Now()}
	for i := 0; i < n; i++ {
		r.Tills = append(r.Tills, RolloutTill{TillKey: TillKey{"s" + fmt.Sprint(i/10), fmt.Sprintf("t%02d", i%10)}, Step: StepAsked})
	}
	doc, _ := json.Marshal(r)
	docs.Put(ctx, DocRollout, "bench", doc)
	c := &RolloutController{Docs: docs, Store: st, reports: map[TillKey][]wire.UpdateReport{}, running: map[TillKey]string{}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A tenth of the fleet reports progress in each tick.
		for j := 0; j < n/10; j++ {
			k := r.Tills[(i*n/10+j)%n].TillKey
			c.reports[k] = append(c.reports[k], wire.UpdateReport{Rollout: "bench", Version: "2.0.0", Step: wire.StepDownloading, Bytes: int64(i), Total: 1 << 20})
		}
		if err := c.reconcile(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	doc, _ = docs.Get(ctx, DocRollout, "bench")
	b.ReportMetric(float64(len(doc))/1024, "KiB/rollout")
}
