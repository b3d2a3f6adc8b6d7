package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// deliveryAudit compares, key by key, the records a drain delivered with the
// rows it owed. Every row written between a connector storing its drain
// position and the drain (the later connectors' marker rows, then the bulk
// load) is an INSERT with a fresh id, so each owed id must arrive exactly
// once: the audit names the ids that did not (lost), those that came more
// than once (redelivered from a stale position), and any id outside the owed
// range (a row from before the stored position). The end-offset count the
// drain waits for cannot tell a lost record from one still in flight, nor a
// duplicate from an owed record; this can, because it reads the topic after
// the connector has stopped.
type deliveryAudit struct {
	FirstID int64 `json:"first_id"` // owed ids are [first_id, first_id+owed)
	Owed    int64 `json:"owed"`
	Read    int64 `json:"read"` // records in the drained range of the topic
	// Missing owed ids, duplicated ids (one per extra copy) and ids outside
	// the owed range, with up to maxListedIDs of each.
	Missing       int64   `json:"missing"`
	MissingIDs    []int64 `json:"missing_ids,omitempty"`
	Duplicates    int64   `json:"duplicates"`
	DuplicateIDs  []int64 `json:"duplicate_ids,omitempty"`
	Unexpected    int64   `json:"unexpected"`
	UnexpectedIDs []int64 `json:"unexpected_ids,omitempty"`
}

const maxListedIDs = 10

// ok reports whether every owed record arrived exactly once and nothing else.
func (a *deliveryAudit) ok() bool { return a.Missing == 0 && a.Duplicates == 0 && a.Unexpected == 0 }

func idList(ids []int64, n int64) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(id)
	}
	if n > int64(len(ids)) {
		s += ",..."
	}
	return s
}

// tally counts ids against the owed range [first, first+owed).
type tally struct {
	a    deliveryAudit
	seen []uint8 // copies of each owed id, saturating
}

func newTally(first, owed int64) *tally {
	return &tally{a: deliveryAudit{FirstID: first, Owed: owed}, seen: make([]uint8, owed)}
}

func (t *tally) add(id int64) {
	t.a.Read++
	i := id - t.a.FirstID
	if i < 0 || i >= t.a.Owed {
		t.a.Unexpected++
		if len(t.a.UnexpectedIDs) < maxListedIDs {
			t.a.UnexpectedIDs = append(t.a.UnexpectedIDs, id)
		}
		return
	}
	if t.seen[i] > 0 {
		t.a.Duplicates++
		if len(t.a.DuplicateIDs) < maxListedIDs {
			t.a.DuplicateIDs = append(t.a.DuplicateIDs, id)
		}
	}
	if t.seen[i] < 255 {
		t.seen[i]++
	}
}

func (t *tally) result() deliveryAudit {
	a := t.a
	for i, n := range t.seen {
		if n == 0 {
			a.Missing++
			if len(a.MissingIDs) < maxListedIDs {
				a.MissingIDs = append(a.MissingIDs, a.FirstID+int64(i))
			}
		}
	}
	return a
}

// auditDrain reads topic from the per-partition offsets from (taken before
// the drain) to its current end and tallies the record keys against the
// owed ids [firstID, firstID+owed). Call it once the connector has stopped,
// so that nothing is still on its way.
func auditDrain(ctx context.Context, brokers []string, ka *kafkaAdmin, topic string, dec recordDecoder,
	from map[int32]int64, firstID, owed int64, timeout time.Duration) (*deliveryAudit, error) {
	to, err := ka.partitionOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	start := map[int32]kgo.Offset{}
	left := map[int32]int64{} // next offset to read, per partition not yet at its end
	for p, end := range to {
		if from[p] < end {
			start[p] = kgo.NewOffset().At(from[p])
			left[p] = from[p]
		}
	}
	t := newTally(firstID, owed)
	if len(left) == 0 {
		a := t.result()
		return &a, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchMaxWait(200*time.Millisecond),
		// read_committed, as a consumer of exactly-once delivery reads; the
		// markers are kept so that the end offsets are reached.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var decErr error
	for len(left) > 0 {
		fs := cl.PollFetches(cctx)
		if cctx.Err() != nil {
			return nil, fmt.Errorf("audit of %s: %d partitions not read to their end within %s (%d records read)", topic, len(left), timeout, t.a.Read)
		}
		if err := fs.Err0(); err != nil {
			return nil, fmt.Errorf("audit of %s: fetch: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next, open := left[r.Partition]
			if !open || r.Offset < next || r.Offset >= to[r.Partition] {
				return // past the audited range
			}
			if r.Attrs.IsControl() {
				// a transaction marker: no row
			} else if id, err := dec.keyID(cctx, r.Key); err != nil {
				if decErr == nil {
					decErr = fmt.Errorf("audit of %s: record %d@%d: %w", topic, r.Partition, r.Offset, err)
				}
			} else {
				t.add(id)
			}
			if r.Offset+1 >= to[r.Partition] {
				delete(left, r.Partition)
			} else {
				left[r.Partition] = r.Offset + 1
			}
		})
		if decErr != nil {
			return nil, decErr
		}
	}
	a := t.result()
	return &a, nil
}
