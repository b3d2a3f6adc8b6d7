package daemon

import (
	"fmt"
	"slices"
	"sync"
	"testing"
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
