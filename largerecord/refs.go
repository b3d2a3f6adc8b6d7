package largerecord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
)

// RefSet is the set of object names records still reference, for GC, in
// bounded memory: a Bloom filter sized for an expected count and a
// false-positive rate. A false positive only keeps an orphan (the safe
// direction); there are no false negatives, so a referenced object is
// never deleted. Beyond the expected count the rate rises, never the
// memory.
type RefSet struct {
	f *bloom.BloomFilter
	n int
}

// NewRefSet sizes a set for expected names at false-positive rate fp
// (e.g. 1e-4: about 2.4 MB per million names).
func NewRefSet(expected int, fp float64) *RefSet {
	return &RefSet{f: bloom.NewWithEstimates(uint(max(expected, 1000)), fp)}
}

// Add records a referenced name.
func (r *RefSet) Add(name string) { r.f.AddString(name); r.n++ }

// Has reports whether name may be referenced (true for every name added).
func (r *RefSet) Has(name string) bool { return r.f.TestString(name) }

// Len is how many names were added (with repeats).
func (r *RefSet) Len() int { return r.n }

// Bytes is the filter's memory.
func (r *RefSet) Bytes() int { return int(r.f.Cap() / 8) }

// SweepAction is what Sweep did with an object.
type SweepAction string

const (
	SweepKept    SweepAction = "kept"    // referenced (or a false positive)
	SweepYoung   SweepAction = "young"   // unreferenced but within the grace period
	SweepDeleted SweepAction = "deleted" // unreferenced and old: deleted (or would be, dry run)
)

// SweepStats sum up a Sweep.
type SweepStats struct {
	Scanned, Referenced, Young, Deleted int
	DeletedBytes                        int64
}

// Sweep deletes the objects under prefix that refs does not hold and that
// were created before olderThan; the grace period protects objects whose
// Kafka record is still in flight (written to the store, not yet acked).
// With dryRun nothing is deleted. fn, if set, hears each decision.
func Sweep(ctx context.Context, s Store, prefix string, refs *RefSet, olderThan time.Time, dryRun bool, fn func(ObjectInfo, SweepAction)) (SweepStats, error) {
	var st SweepStats
	err := s.List(ctx, prefix, func(o ObjectInfo) error {
		st.Scanned++
		action := SweepDeleted
		switch {
		case refs.Has(o.Name):
			action = SweepKept
			st.Referenced++
		case !o.Written.Before(olderThan):
			action = SweepYoung
			st.Young++
		default:
			if !dryRun {
				err := s.Delete(ctx, o)
				if errors.Is(err, ErrChanged) { // written again since listed: a replay's
					action = SweepYoung
					st.Young++
					break
				}
				if err != nil {
					return fmt.Errorf("gc: %w", err)
				}
			}
			st.Deleted++
			st.DeletedBytes += o.Size
		}
		if fn != nil {
			fn(o, action)
		}
		return nil
	})
	return st, err
}
