package router

import (
	"strconv"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
)

func gtid(seq int) change.Position {
	return change.Position{Flavor: change.FlavorMariaDB, GTIDSet: "0-1-" + strconv.Itoa(seq)}
}

// step is one event of a scripted interleaving: a Write of n records with
// position pos, or the acknowledgement of record rec of batch b, followed
// by a check of the committable position.
type step struct {
	write   int // records in a new batch (with position gtid(batch number)), or -1
	ackB    int // batch index to acknowledge one record of, or -1
	want    int // committable position after this step: gtid(want), 0 = none since the last check
	comment string
}

func TestTrackerInterleavings(t *testing.T) {
	w := func(n int, want int, c string) step { return step{write: n, ackB: -1, want: want, comment: c} }
	a := func(b int, want int, c string) step { return step{write: -1, ackB: b, want: want, comment: c} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{
			w(2, 0, "batch 1: 2 records"),
			a(1, 0, "one of two"),
			a(1, 1, "both: position 1"),
		}},
		{"later batch acked first (another partition)", []step{
			w(1, 0, "batch 1"),
			w(1, 0, "batch 2"),
			a(2, 0, "batch 2 acked before batch 1: nothing"),
			a(1, 2, "batch 1 acked: both complete, position 2"),
		}},
		{"a hole in the middle holds back everything after it", []step{
			w(1, 0, "batch 1"),
			w(2, 0, "batch 2"),
			w(1, 0, "batch 3"),
			a(1, 1, "position 1"),
			a(3, 0, "batch 3 done, but batch 2 is not"),
			a(2, 0, "half of batch 2"),
			a(2, 3, "batch 2 done: position 3"),
		}},
		{"checkpoint with nothing in flight", []step{
			w(0, 1, "a checkpoint alone is committable at once"),
		}},
		{"checkpoint after records waits for them", []step{
			w(1, 0, "batch 1"),
			w(0, 0, "checkpoint 2 (coalesced into batch 1)"),
			w(0, 0, "checkpoint 3 (coalesced too)"),
			a(1, 3, "batch 1 acked: the newest checkpoint, 3"),
		}},
		{"checkpoint then records", []step{
			w(1, 0, "batch 1"),
			w(0, 0, "checkpoint 2"),
			w(1, 0, "batch 3"),
			a(3, 0, "batch 3 before batch 1: nothing"),
			a(1, 3, "all acked: 3"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tracker
			var batches []*batch
			for i, s := range tt.steps {
				switch {
				case s.write >= 0:
					batches = append(batches, tr.add(s.write, gtid(len(batches)+1)))
				default:
					batches[s.ackB-1].pending.Add(-1)
				}
				pos, _, ok := tr.advance()
				switch {
				case s.want == 0 && ok:
					t.Fatalf("step %d (%s): position %s committable, want none", i+1, s.comment, pos)
				case s.want != 0 && (!ok || pos.GTIDSet != gtid(s.want).GTIDSet):
					t.Fatalf("step %d (%s): committable %s (ok %t), want %s", i+1, s.comment, pos, ok, gtid(s.want))
				}
			}
		})
	}
}

// A failed record is never counted as acknowledged: its batch and every
// later batch stay uncommittable, whatever else is acknowledged.
func TestTrackerFailedRecordBlocksLaterPositions(t *testing.T) {
	var tr tracker
	b1 := tr.add(1, gtid(1))
	b2 := tr.add(2, gtid(2)) // one record of b2 fails
	b3 := tr.add(1, gtid(3))
	tr.add(0, gtid(4))
	b1.pending.Add(-1)
	if pos, _, ok := tr.advance(); !ok || pos.GTIDSet != gtid(1).GTIDSet {
		t.Fatalf("committable %s (%t), want %s", pos, ok, gtid(1))
	}
	b2.pending.Add(-1) // the other record of b2 succeeds
	b3.pending.Add(-1)
	for range 3 {
		if pos, _, ok := tr.advance(); ok {
			t.Fatalf("position %s committable behind a failed record", pos)
		}
	}
	if tr.queued() != 2 {
		t.Fatalf("queued = %d, want 2 (the failed batch and the one after it with its checkpoint)", tr.queued())
	}
}
