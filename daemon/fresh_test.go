package daemon

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
)

func TestFreshShardsOthers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fresh  []string // shards of this process that started without a position
		listed []string // shards with a stored position (OtherShards)
		want   []string // the ones that refuse a shard without a position
	}{
		{"first start, nobody wrote yet", nil, nil, nil},
		{"first start, a new sibling wrote first", []string{"shard1"}, []string{"shard1"}, nil},
		{"several new siblings wrote first", []string{"shard1", "shard3"}, []string{"shard1", "shard3"}, nil},
		{"added to a fleet that resumed", nil, []string{"shard1", "shard2"}, []string{"shard1", "shard2"}},
		{"renamed: the old name is not of this process", []string{"shard2"}, []string{"old-shard1", "shard2"}, []string{"old-shard1"}},
		{"a fresh sibling does not hide the others", []string{"shard3"}, []string{"shard1", "shard3", "shard4"}, []string{"shard1", "shard4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFreshShards()
			for _, s := range tc.fresh {
				f.mark(s)
			}
			if got := f.others(tc.listed); !slices.Equal(got, tc.want) {
				t.Errorf("others(%v) with fresh %v = %v, want %v", tc.listed, tc.fresh, got, tc.want)
			}
		})
	}
}

// Every pipeline of a daemon marks and asks from its own goroutine.
func TestFreshShardsConcurrent(t *testing.T) {
	f := newFreshShards()
	const n = 16
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("shard%d", i)
	}
	var wg sync.WaitGroup
	for _, s := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.mark(s)
			_ = f.others(names)
		}()
	}
	wg.Wait()
	if got := f.others(append(names, "other")); !slices.Equal(got, []string{"other"}) {
		t.Errorf("after every shard marked itself: others = %v, want [other]", got)
	}
}

// A shard without a stored position resumes at its first start until a
// position of it is stored; positions without GTIDs are never kept.
func TestFirstStart(t *testing.T) {
	gtid := func(s string) change.Position { return change.Position{Flavor: change.FlavorMariaDB, GTIDSet: s} }
	file := change.Position{Flavor: change.FlavorMariaDB, File: "bin.000001", Pos: 4}
	for _, tc := range []struct {
		name   string
		events func(f *firstStart)
		want   change.Position // zero: start at the server's current position
	}{
		{"never streamed", func(f *firstStart) {}, change.Position{}},
		{"failed before the first commit", func(f *firstStart) { f.streaming(gtid("1-1-10")) }, gtid("1-1-10")},
		{"the first start wins over later ones", func(f *firstStart) {
			f.streaming(gtid("1-1-10"))
			f.streaming(gtid("1-1-20")) // a reconnect, or a lifetime that failed too
		}, gtid("1-1-10")},
		{"committed since", func(f *firstStart) { f.streaming(gtid("1-1-10")); f.storedPosition() }, change.Position{}},
		{"resumed from a stored position", func(f *firstStart) { f.storedPosition(); f.streaming(gtid("1-1-10")) }, change.Position{}},
		{"a file and offset stay on their server", func(f *firstStart) { f.streaming(file) }, change.Position{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f firstStart
			tc.events(&f)
			got, ok := f.resume()
			if got.String() != tc.want.String() || ok != !tc.want.IsZero() {
				t.Errorf("resume() = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
