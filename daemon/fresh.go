package daemon

import (
	"sync"

	"github.com/tidemark-cdc/tidemark/change"
)

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

// firstStart remembers where a shard that found no stored position started
// streaming in this process, until a position of it is in Kafka. A lifetime
// that fails before its first commit (the broker died during the start
// snapshot, say) must not make the next one start at the server's current
// position again: every change committed in between would be skipped. The
// next lifetime that finds no stored position resumes here instead, and
// writes those changes again (the first lifetime's transaction was aborted).
//
// Only positions with GTIDs are kept: a file and offset belong to one server,
// and the next lifetime may use another one (failover); such a shard starts
// at the current position as before. Safe for concurrent use (the reader's
// goroutine reports streaming, the supervisor's asks).
type firstStart struct {
	mu     sync.Mutex
	pos    change.Position
	stored bool // a position of the shard is (or was) in Kafka: never resume here
}

// streaming records the first start of the shard's stream.
func (f *firstStart) streaming(from change.Position) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pos.IsZero() && from.GTIDSet != "" {
		f.pos = from
	}
}

// storedPosition records that a position of the shard is in Kafka (loaded or
// committed): from then on the stored one is the truth.
func (f *firstStart) storedPosition() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored = true
}

// resume returns the position to start at when none is stored: the first
// start's, if the shard streamed before and never stored a position.
func (f *firstStart) resume() (change.Position, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stored || f.pos.IsZero() {
		return change.Position{}, false
	}
	return f.pos, true
}
