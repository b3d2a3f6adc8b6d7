package snapshot

import (
	"fmt"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
)

// The stream's cost of an open snapshot window: every event of the
// snapshotted table is recorded by key (Observe, on the encoder's path).
func BenchmarkMergerObserveOpenWindow(b *testing.B) {
	m, err := NewMerger(change.FlavorMariaDB, "s1", nil, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := m.Open("shop", "t")
	defer w.Close()
	evs := make([]change.Event, 1024)
	for i := range evs {
		evs[i] = change.Event{Op: change.OpUpdate, Table: testTable,
			Before: change.Row{int32(i), "a"}, After: change.Row{int32(i), "b"},
			Source: change.Source{Database: "shop", Table: "t"}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Observe(&evs[i%len(evs)])
	}
}

// A chunk of 4096 rows through its window: Ready, then Due at the high
// watermark (the rows' keys checked against the window, the rows handed
// back), the per-chunk cost of the merge.
func BenchmarkMergerChunk4096(b *testing.B) {
	m, err := NewMerger(change.FlavorMariaDB, "s1", nil, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	m.Update(func(p *Progress) {
		p.Requests = append(p.Requests, &Request{ID: "r1", State: StateRunning, ChunkSize: 16, Readers: 1,
			Tables: []*TableProgress{{Table: "shop.t", State: StateRunning, Ranges: []*KeyRange{{}}}}})
	})
	rows := make([]change.Event, 4096)
	for i := range rows {
		rows[i] = readRow(int32(i), fmt.Sprint("v", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := m.Open("shop", "t")
		w.Ready(pos(fmt.Sprintf("1-1-%d", i+1)), rows, func(*Progress, int, int) {})
		out, err := m.Due(pos(fmt.Sprintf("1-1-%d", i+1)))
		if err != nil || len(out) != len(rows) {
			b.Fatalf("%d rows due, %v", len(out), err)
		}
		<-w.Done()
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}
