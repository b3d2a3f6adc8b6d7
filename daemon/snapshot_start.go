package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tidemark-cdc/tidemark/snapshot"
)

// autoSnapshots queues the snapshots a lifetime owes without being asked,
// then takes stock of the allow-list in the shard's progress:
//
//   - a shard without a stored position and start: snapshot snapshots every
//     captured table (its topics get the tables' whole state, and the stream
//     every change from its start position on);
//   - a table the allow-list captures now and did not when the shard last
//     took stock (an allow-list edited in the file, at a restart or a
//     SIGHUP) is snapshotted, so it is complete in Kafka like the others.
//
// A shard whose progress predates the allow-list record only takes stock.
func (p *pipeline) autoSnapshots(ctx context.Context, r *snapshot.Runner, m *snapshot.Merger, found bool, tables []TableFilter) {
	rules, err := json.Marshal(tables)
	if err != nil {
		return // plain data: cannot fail
	}
	var stored json.RawMessage
	m.View(func(pr *snapshot.Progress) { stored = pr.AllowList })
	var spec *snapshot.RequestSpec
	switch {
	case !found && p.start == StartSnapshot:
		spec = &snapshot.RequestSpec{ID: "start-" + time.Now().UTC().Format("20060102-150405"), Reason: "start", Tables: []string{"*.*"}}
	case found && stored != nil && string(stored) != string(rules):
		var old []TableFilter
		if err := json.Unmarshal(stored, &old); err != nil {
			p.log.Warn("the allow-list recorded in the snapshot progress is unreadable; tables added since are not snapshotted", "error", err)
			break
		}
		before := newTableFilter(old)
		var added []string
		err := retryCtx(ctx, func() error {
			all, err := r.Tables(ctx, []string{"*.*"})
			added = added[:0]
			for _, t := range all {
				db, name := splitTable(t)
				if !before.Allowed(db, name) {
					added = append(added, t)
				}
			}
			return err
		})
		if err != nil {
			return // ctx ended
		}
		if len(added) > 0 {
			p.log.Info("tables added to the allow-list: snapshotting them", "tables", added)
			spec = &snapshot.RequestSpec{ID: "allow-list-" + time.Now().UTC().Format("20060102-150405"), Reason: "allow-list", Tables: added}
		}
	}
	if spec != nil {
		err := retryCtx(ctx, func() error {
			_, err := r.Start(ctx, *spec)
			var re *snapshot.RequestError
			if errors.As(err, &re) {
				p.log.Info("no snapshot needed", "reason", spec.Reason, "why", re.Reason)
				return nil // nothing to snapshot (no captured table yet)
			}
			return err
		})
		if err != nil {
			return
		}
	}
	m.Update(func(pr *snapshot.Progress) { pr.AllowList = rules })
}

// retryCtx runs fn until it succeeds or ctx ends, with backoff.
func retryCtx(ctx context.Context, fn func() error) error {
	wait := 200 * time.Millisecond
	for {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func splitTable(t string) (db, table string) {
	for i := 0; i < len(t); i++ {
		if t[i] == '.' {
			return t[:i], t[i+1:]
		}
	}
	return t, ""
}
