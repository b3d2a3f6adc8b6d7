package integration

// Failures stay where they happen, and nothing is skipped without a loud
// signal (issue 8): a panic in one shard's stage, a writer failing first,
// readiness, starts without a stored position, the positions topic's
// policy, and the discard sink's positions.

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// A panic inside a real running stage goroutine of one shard (the reader,
// the encoder, the writer) parks that shard with class internal and the
// stack in the log; the other shard keeps streaming and the process lives.
func TestDaemonStagePanicStaysInShard(t *testing.T) {
	s := stackEnv(t)
	for _, stage := range []string{"binlog", "encode", "kafka"} {
		t.Run(stage, func(t *testing.T) {
			e, dbs := newAccountsE2E(t, s, 0, 1)
			var calls atomic.Int64
			hooks := daemon.Hooks{Stage: func(shard, st string) {
				// Let the stage run a little first: the panic hits a
				// pipeline that is really streaming.
				if shard == "shard2" && st == stage && calls.Add(1) == 3 {
					panic("injected fault in the " + stage + " stage")
				}
			}}
			d := startDaemon(t, e.config([]int{0, 1}, ""), daemon.WithHooks(hooks))
			// shard1 starts at the server's current position: its part of the
			// topic can only be exact for rows written once it streams. Not
			// waitStreaming: shard2 may already have panicked by then.
			eventually(t, time.Minute, "shard1 streaming", func() error {
				if st := d.status(t, "shard1"); st.State != daemon.StateStreaming {
					return fmt.Errorf("shard1 %s (%s)", st.State, st.LastError)
				}
				return nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := runWorkloads(ctx, dbs, 0)
			eventually(t, time.Minute, "shard2 parked", func() error {
				if st := d.status(t, "shard2"); st.State != daemon.StateFailed {
					return fmt.Errorf("shard2 %s (%s)", st.State, st.LastError)
				}
				return nil
			})
			st := d.status(t, "shard2")
			if st.LastErrorClass != "internal" || st.Retry != "terminal" || !strings.Contains(st.LastError, "the "+stage+" stage panicked") ||
				strings.Contains(st.LastError, "goroutine ") {
				t.Errorf("shard2 status %+v: want internal, terminal, naming the stage, no stack", st)
			}
			if log := d.log.String(); !strings.Contains(log, "shard pipeline panicked") || !strings.Contains(log, "runtime/debug.Stack") {
				t.Errorf("the log has no panic with its stack")
			}
			// shard1 still streams: its rows keep arriving after shard2 died.
			before := d.status(t, "shard1").EventsRead
			eventually(t, time.Minute, "shard1 streaming on", func() error {
				st := d.status(t, "shard1")
				if st.State != daemon.StateStreaming || st.EventsRead < before+50 {
					return fmt.Errorf("shard1 %s, %d events (had %d)", st.State, st.EventsRead, before)
				}
				return nil
			})
			cancel()
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			delete(dbs, 1)
			e.waitFinalStateOf(t, dbs, 2*time.Minute, ofShard(0)) // shard1's part of the topic is exact
		})
	}
}

// A writer that fails before the reader starts (no broker answers) reports
// its own error, classified and with the next retry, not the context
// cancellation it caused in the position load.
func TestDaemonEarlyWriterFailure(t *testing.T) {
	s := stackEnv(t)
	e, _ := newAccountsE2E(t, s, 0)
	cfg := strings.Replace(e.config([]int{0}, ""), "brokers: ["+strings.Join(s.Brokers, ", ")+"]", "brokers: [127.0.0.1:1]", 1)
	d := startDaemon(t, cfg)
	eventually(t, 2*time.Minute, "shard retrying on the writer's error", func() error {
		st := d.status(t, "shard1")
		if st.State != daemon.StateRetrying || st.LastError == "" {
			return fmt.Errorf("shard1 %s (%s)", st.State, st.LastError)
		}
		return nil
	})
	st := d.status(t, "shard1")
	if st.LastErrorClass != "kafka_unreachable" || st.Retry != "transient" || st.NextRetryAt == nil ||
		!strings.Contains(st.LastError, "127.0.0.1:1") || strings.Contains(st.LastError, "context canceled") {
		t.Errorf("status %+v: want the writer's own kafka_unreachable error with a next retry", st)
	}
}

// A shard reports ready only once its start position is fixed and its
// binlog connection is open: a row committed the instant /readyz first
// answers 200 is captured, every time.
func TestDaemonReadyMeansCaptured(t *testing.T) {
	s := stackEnv(t)
	const probes = 12
	for i := range probes {
		e, dbs := newAccountsE2E(t, s, 0)
		d := startDaemon(t, e.config([]int{0}, ""))
		url := "http://" + d.d.AdminAddr() + "/readyz"
		deadline := time.Now().Add(time.Minute)
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe %d: never ready", i)
			}
		}
		exec(t, dbs[0].DB, fmt.Sprintf("INSERT INTO %s.accounts (id, email, version, balance) VALUES (%d, 'ready@example.com', 1, 1.00)", dbs[0].name, i+1))
		e.waitRecords(t, "accounts", 1)
		d.stop()
	}
}

// Without a stored position a shard starts at the server's current position
// loudly (WARN, metric, /status). When the positions topic holds other
// shards' positions but not this one (a renamed shard, a new one), the start
// is refused until the operator confirms it.
func TestDaemonMissingPosition(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	first := startDaemon(t, e.config([]int{0}, ""))
	first.waitStreaming(t)
	if st := first.status(t, "shard1"); !st.StartedWithoutPosition || st.StartPosition == "" {
		t.Errorf("first start: status %+v, want started_without_position and the start position", st)
	}
	if !strings.Contains(first.log.String(), "level=WARN msg=\"no stored position") {
		t.Errorf("first start without a WARN line")
	}
	_, metrics, _ := httpGet("http://" + first.d.AdminAddr() + "/metrics")
	if !strings.Contains(metrics, `tidemark_shard_starts_without_position_total{shard="shard1"} 1`) {
		t.Errorf("metrics do not count the start without a position")
	}
	exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES (1, 'a@example.com', 1, 1.00)")
	e.waitRecords(t, "accounts", 1)
	first.stop()

	// shard2 joins without a position: refused, naming shard1; shard1 runs.
	second := startDaemon(t, e.config([]int{0, 1}, ""))
	eventually(t, time.Minute, "shard2 refused", func() error {
		if st := second.status(t, "shard2"); st.State != daemon.StateFailed {
			return fmt.Errorf("shard2 %s", st.State)
		}
		return nil
	})
	st := second.status(t, "shard2")
	if st.LastErrorClass != "missing_position" || !strings.Contains(st.LastError, "shard1") ||
		!strings.Contains(st.LastError, e.positionsTopic) || !strings.Contains(st.LastError, "accept_missing_position") {
		t.Errorf("shard2 status %+v: want missing_position naming shard1, the topic and the way out", st)
	}
	if st := second.status(t, "shard1"); st.State != daemon.StateStreaming || st.StartedWithoutPosition {
		t.Errorf("shard1 %+v, want streaming from its stored position", st)
	}
	second.stop()

	// Confirmed as new: it starts at the current position, loudly.
	cfg := e.config([]int{0, 1}, "")
	cfg = strings.Replace(cfg, "  - name: shard2\n", "  - name: shard2\n    accept_missing_position: true\n", 1)
	third := startDaemon(t, cfg)
	third.waitStreaming(t)
	if st := third.status(t, "shard2"); !st.StartedWithoutPosition {
		t.Errorf("shard2 %+v, want started_without_position", st)
	}
	exec(t, dbs[1].DB, "INSERT INTO "+dbs[1].name+".accounts (id, email, version, balance) VALUES (2000000001, 'b@example.com', 1, 1.00)")
	e.waitRecords(t, "accounts", 2)
}

// A first start of several shards with an empty positions topic: the
// quickest shard stores its first position before another one asks which
// shards have positions. Both are new, so neither is refused. shard2 is held
// at the start of its lifetime until shard1 has committed a position: the
// order that lost the race before.
func TestDaemonFreshShardsFirstStart(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	shard1Committed := make(chan struct{})
	var once sync.Once
	var shard2Early atomic.Bool
	hooks := daemon.Hooks{Stage: func(shard, stage string) {
		switch {
		case shard == "shard1" && stage == "kafka":
			once.Do(func() { close(shard1Committed) })
		case shard == "shard2" && stage == "start":
			select {
			case <-shard1Committed:
			case <-time.After(time.Minute): // a deadline, not a delay: shard1 never committed
				shard2Early.Store(true)
			}
		}
	}}
	d := startDaemon(t, e.config([]int{0, 1}, ""), daemon.WithHooks(hooks))
	eventually(t, time.Minute, "shard1 streaming", func() error {
		if st := d.status(t, "shard1"); st.State != daemon.StateStreaming {
			return fmt.Errorf("shard1 %s (%s)", st.State, st.LastError)
		}
		return nil
	})
	// A row makes shard1 commit even between heartbeats.
	exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES (1, 'a@example.com', 1, 1.00)")
	d.waitStreaming(t)
	if shard2Early.Load() {
		t.Fatalf("shard1 committed no position within a minute: the test did not reproduce the order of the race")
	}
	for _, name := range []string{"shard1", "shard2"} {
		if st := d.status(t, name); !st.StartedWithoutPosition {
			t.Errorf("%s %+v, want started_without_position", name, st)
		}
	}
	exec(t, dbs[1].DB, "INSERT INTO "+dbs[1].name+".accounts (id, email, version, balance) VALUES (2000000001, 'b@example.com', 1, 1.00)")
	e.waitRecords(t, "accounts", 2)
	d.stop()

	// The next start resumes both from their stored positions.
	d = startDaemon(t, e.config([]int{0, 1}, ""))
	d.waitStreaming(t)
	for _, name := range []string{"shard1", "shard2"} {
		if st := d.status(t, name); st.StartedWithoutPosition {
			t.Errorf("restart: %s %+v, want resumed from its stored position", name, st)
		}
	}
}

// A positions topic with retention instead of compaction would lose
// positions: the shard refuses to start, naming the topic and the fix.
func TestDaemonPositionsTopicNotCompacted(t *testing.T) {
	s := stackEnv(t)
	e, _ := newAccountsE2E(t, s, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	del := "delete"
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, map[string]*string{"cleanup.policy": &del}, e.positionsTopic); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, e.config([]int{0}, ""))
	eventually(t, time.Minute, "shard parked", func() error {
		if st := d.status(t, "shard1"); st.State != daemon.StateFailed {
			return fmt.Errorf("shard1 %s (%s)", st.State, st.LastError)
		}
		return nil
	})
	st := d.status(t, "shard1")
	if st.LastErrorClass != "config" || !strings.Contains(st.LastError, e.positionsTopic) || !strings.Contains(st.LastError, "cleanup.policy=compact") {
		t.Errorf("status %+v: want a config error naming the topic and the fix", st)
	}
}

// kafka.sink: discard keeps its positions apart: kafka → discard → kafka
// resumes the second kafka run from the first one's position, so nothing
// written during the discarding run is skipped.
func TestDaemonDiscardThenKafka(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	w := newWorkload(dbs[0].DB, dbs[0].name, 0)
	run := func(extra string, txs int) {
		t.Helper()
		cfg := e.config([]int{0}, "")
		if extra != "" {
			cfg = strings.Replace(cfg, "  linger: 2ms\n", "  linger: 2ms\n"+extra, 1)
		}
		d := startDaemon(t, cfg)
		d.waitStreaming(t)
		if err := w.run(context.Background(), txs); err != nil {
			t.Fatal(err)
		}
		var gtid string
		if err := dbs[0].QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "position stored past the workload", func() error {
			if st := d.status(t, "shard1"); st.CommittedPosition != "mariadb gtid "+gtid {
				return fmt.Errorf("committed %q, shard at %q", st.CommittedPosition, gtid)
			}
			return nil
		})
		d.stop()
	}
	run("", 30)
	run("  sink: discard\n", 30)
	if !e.topicExists(t, e.positionsTopic+".discard") {
		t.Errorf("the discard run stored no positions of its own")
	}
	run("", 30)
	e.waitFinalState(t, dbs, 2*time.Minute)
}

// XA: rows are emitted at XA PREPARE. An XA COMMIT changes nothing; an XA
// ROLLBACK of a transaction whose rows were emitted parks the shard, naming
// the XID, also when the rollback comes after a restart (the prepared XID
// travels in the position); on_xa_rollback: continue goes on with a warning
// in /status and the metrics.
func TestDaemonXARollback(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	table := dbs[0].name + ".accounts"
	xa := func(xid string, id int, outcome string) {
		t.Helper()
		// A session of its own: a prepared transaction outlives its session
		// (MariaDB 10.5+), and only then can another session end it.
		ctx := context.Background()
		c, err := sql.Open("mysql", fmt.Sprintf("%s:%s@%s/", s.AdminUser, s.AdminPassword, s.Shards[0]))
		if err != nil {
			t.Fatal(err)
		}
		c.SetMaxOpenConns(1)
		var session int64
		if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&session); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"XA START '" + xid + "'",
			fmt.Sprintf("INSERT INTO %s (id, email, version, balance) VALUES (%d, 'xa@example.com', 1, 1.00)", table, id),
			"XA END '" + xid + "'", "XA PREPARE '" + xid + "'",
		} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		c.Close()
		// Close only sends COM_QUIT: until the server has ended the session,
		// the XID stays attached to it and other sessions get XAER_NOTA. The
		// server detaches the XID before it drops the session from its
		// process list.
		eventually(t, 30*time.Second, "XA session "+xid+" ended", func() error {
			var n int
			if err := dbs[0].QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", session).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				return fmt.Errorf("session %d still in the process list", session)
			}
			return nil
		})
		if outcome != "" {
			exec(t, dbs[0].DB, "XA "+outcome+" '"+xid+"'")
		}
	}
	committed, undone := uniqueName("commit"), uniqueName("undone") // XIDs are server-wide
	// A failed run must not leave prepared transactions on the shard.
	t.Cleanup(func() {
		_, _ = dbs[0].Exec("XA ROLLBACK '" + undone + "'")
		_, _ = dbs[0].Exec("XA ROLLBACK '" + committed + "'")
	})
	xidText := "x'" + hex.EncodeToString([]byte(undone)) + "',x'',1"
	d := startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)
	xa(committed, 1, "COMMIT")
	xa(undone, 2, "") // prepared; its rollback comes while the daemon is down
	e.waitRecords(t, "accounts", 2)
	d.stop()
	exec(t, dbs[0].DB, "XA ROLLBACK '"+undone+"'")

	d = startDaemon(t, e.config([]int{0}, ""))
	eventually(t, time.Minute, "shard parked on the rollback", func() error {
		if st := d.status(t, "shard1"); st.State != daemon.StateFailed {
			return fmt.Errorf("shard1 %s (%s)", st.State, st.LastError)
		}
		return nil
	})
	st := d.status(t, "shard1")
	if st.LastErrorClass != "xa_rollback" || !strings.Contains(st.LastError, xidText) || !strings.Contains(st.LastError, "on_xa_rollback") {
		t.Errorf("status %+v: want xa_rollback naming the XID and the way on", st)
	}
	d.stop()

	cfg := strings.Replace(e.config([]int{0}, ""), "  heartbeat_period: 500ms\n", "  heartbeat_period: 500ms\n  on_xa_rollback: continue\n", 1)
	d = startDaemon(t, cfg)
	d.waitStreaming(t)
	exec(t, dbs[0].DB, "INSERT INTO "+table+" (id, email, version, balance) VALUES (3, 'after@example.com', 1, 1.00)")
	e.waitRecords(t, "accounts", 3)
	if w := d.status(t, "shard1").Warnings["xa_rollback"]; w == nil || w.Count != 1 || !strings.Contains(w.Last, xidText) {
		t.Errorf("warnings %+v, want one xa_rollback", d.status(t, "shard1").Warnings)
	}
	_, metrics, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
	if !strings.Contains(metrics, `tidemark_binlog_warnings_total{kind="xa_rollback",shard="shard1"} 1`) {
		t.Errorf("metrics do not count the XA rollback")
	}
}

// A reader behind an ALTER (a restart, a catch-up) decodes the rows written
// before it as they were written: a MariaDB UUID column of a pre-ALTER row
// is still its text, under the schema registered before, no new version.
// Where information_schema cannot tell (the column was dropped since), the
// reader says so: a warning naming table and column, in /status and metrics.
func TestDaemonBehindAnALTER(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	dbs := e.createShardDBs(t, 0)
	db := dbs[0]
	exec(t, db.DB, "CREATE TABLE "+db.name+".t_add (id INT PRIMARY KEY, u UUID NOT NULL)",
		"CREATE TABLE "+db.name+".t_drop (id INT PRIMARY KEY, ip INET6 NOT NULL)")
	d := startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)
	exec(t, db.DB, "INSERT INTO "+db.name+".t_add VALUES (1, UUID())", "INSERT INTO "+db.name+".t_drop VALUES (1, '2001:db8::1')")
	e.waitRecords(t, "t_add", 1)
	e.waitRecords(t, "t_drop", 1)
	d.stop()

	// While the daemon is down: a row, then the ALTER, then a row.
	exec(t, db.DB, "INSERT INTO "+db.name+".t_add VALUES (2, UUID())", "ALTER TABLE "+db.name+".t_add ADD COLUMN extra INT NULL",
		"INSERT INTO "+db.name+".t_add VALUES (3, UUID(), 7)")
	exec(t, db.DB, "INSERT INTO "+db.name+".t_drop VALUES (2, '2001:db8::2')", "ALTER TABLE "+db.name+".t_drop ADD COLUMN v INT NULL, DROP COLUMN ip")
	want := map[int32]string{}
	rows, err := db.Query("SELECT id, CAST(u AS CHAR) FROM " + db.name + ".t_add")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int32
		var u string
		if err := rows.Scan(&id, &u); err != nil {
			t.Fatal(err)
		}
		want[id] = u
	}
	rows.Close()

	d = startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)
	e.waitRecords(t, "t_add", 3)
	e.waitRecords(t, "t_drop", 2)
	dec := e.decoder(t)
	ids := map[int32]int{} // id → value schema id
	for _, r := range e.readTopic(t, e.topic("t_add")) {
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		id := rec.After["id"].(int32)
		ids[id] = rec.ValueSchemaID
		if got := rec.After["u"]; got != want[id] {
			t.Errorf("t_add id %d: u %#v, MariaDB says %q", id, got, want[id])
		}
	}
	if ids[2] != ids[1] || ids[3] == ids[1] {
		t.Errorf("value schema ids %v: want the pre-ALTER row under the first version and the post-ALTER row under a new one", ids)
	}
	eventually(t, time.Minute, "the guess reported", func() error {
		w := d.status(t, "shard1").Warnings["schema_uncertain"]
		if w == nil || !strings.Contains(w.Last, db.name+".t_drop") || !strings.Contains(w.Last, "ip") {
			return fmt.Errorf("warnings %+v", d.status(t, "shard1").Warnings)
		}
		return nil
	})
	_, metrics, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
	if !strings.Contains(metrics, `tidemark_binlog_warnings_total{kind="schema_uncertain",shard="shard1"}`) {
		t.Errorf("metrics do not count the uncertain schema")
	}
}
