package daemon

import "sync"

// freshShards is the set of this process's shards that started without a
// stored position during its lifetime: new shards, like the one asking. One
// set is shared by every pipeline of a Daemon and is safe for concurrent use.
//
// It closes a race of a first start: several new shards start at once, one
// of them is quicker and stores its first position before another one asks
// which shards have positions. That position belongs to a shard as new as
// the asking one, not to a shard that was renamed away from it. A shard is
// marked before it can write anything, so a position of a fresh shard that
// OtherShards returns was stored after its mark, and filtering after the
// listing always sees it. Shards that resumed from a stored position are
// never marked: a shard added to a running fleet, or a renamed one, still
// sees them and is refused.
type freshShards struct {
	mu    sync.Mutex
	names map[string]bool
}

func newFreshShards() *freshShards { return &freshShards{names: map[string]bool{}} }

// mark records that shard started without a stored position.
func (f *freshShards) mark(shard string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[shard] = true
}

// others returns the shards of others (names of shards with a stored
// position) that did not start fresh in this process, in their order.
func (f *freshShards) others(others []string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range others {
		if !f.names[s] {
			out = append(out, s)
		}
	}
	return out
}
