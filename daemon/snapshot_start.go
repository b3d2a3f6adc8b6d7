package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"

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
		err := p.retryCtx(ctx, "list the tables to compare with the stored allow-list", func() error {
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
		err := p.retryCtx(ctx, "queue the "+spec.Reason+" snapshot", func() error {
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

// retryCtx runs fn until it succeeds or ctx ends, with backoff, each
// failure a WARN naming what it was for.
func (p *pipeline) retryCtx(ctx context.Context, what string, fn func() error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = 200*time.Millisecond, 10*time.Second, 0
	err := backoff.RetryNotify(fn, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		p.log.Warn("snapshot: could not "+what+"; retrying", "error", err, "retry_in", wait.String())
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func splitTable(t string) (db, table string) {
	for i := 0; i < len(t); i++ {
		if t[i] == '.' {
			return t[:i], t[i+1:]
		}
	}
	return t, ""
}
