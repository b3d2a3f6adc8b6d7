package integration

// Snapshots of awkward keys, filtered and controlled snapshots, tables added
// to the allow-list, and a new shard's first start (issue 9).

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// snapshotKeys reads a topic and returns the op=r records' keys (as the
// decoder renders them), sorted. A snapshot is done once its rows are
// handed to the writer, not once Kafka acknowledged them: it reads until at
// least want keys are there, for up to a minute, and returns what it read.
func (e *e2eSetup) snapshotKeys(t *testing.T, topic string, want int) []string {
	t.Helper()
	dec := e.decoder(t)
	var out []string
	deadline := time.Now().Add(time.Minute)
	for {
		out = out[:0]
		if e.topicExists(t, topic) {
			for _, r := range e.readTopic(t, topic) {
				rec, err := dec.Decode(context.Background(), r.Key, r.Value)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Op == "r" {
					out = append(out, fmt.Sprint(rec.Key))
				}
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sort.Strings(out)
	return out
}

// sqlKeys are SELECT's rows of a table's key columns, rendered like
// snapshotKeys (the decoder's map of the key record).
func sqlKeys(t *testing.T, db *sqlDB, table, cols string, render func(vals []string) string) []string {
	t.Helper()
	rows, err := db.Query("SELECT " + cols + " FROM " + db.name + "." + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := len(strings.Split(cols, ","))
	var out []string
	for rows.Next() {
		vals := make([]string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, render(vals))
	}
	sort.Strings(out)
	return out
}

// Keys the server orders its own way: a _ci VARCHAR key with case and accent
// variants, a composite key; chunks of 2 so that pagination crosses them all.
// Every row is emitted exactly once. A table without a key is refused with a
// clear error, the others still run.
func TestSnapshotAwkwardKeys(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	db := e.createShardDBs(t, 0)[0]
	exec(t, db.DB,
		"CREATE TABLE "+db.name+".ci (k VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)",
		"INSERT INTO "+db.name+".ci VALUES ('a',1),('B',2),('c',3),('é',4),('Ö',5),('z ',6),('ab',7),('Ab2',8),('ß',9),('d',10),('f',11),('ÿ',12)",
		"CREATE TABLE "+db.name+".comp (a INT, b VARCHAR(8), v INT, PRIMARY KEY (a, b))",
		"INSERT INTO "+db.name+".comp VALUES (1,'x',1),(1,'y',2),(1,'Y2',3),(2,'a',4),(2,'b',5),(3,'',6),(-1,'q',7),(10,'x',8)",
		"CREATE TABLE "+db.name+".nokey (v INT)",
		"INSERT INTO "+db.name+".nokey VALUES (1),(2)",
	)
	cfg := e.snapshotConfigIncluding(2, 2, "ci, comp")
	d, done := snapshotOnce(t, cfg, db.name+".*")
	if n := len(done.Shards[0].Tables); n != 2 {
		t.Errorf("%d tables snapshotted, want the 2 captured ones", n)
	}
	wantCI := sqlKeys(t, db, "ci", "k", func(v []string) string { return fmt.Sprint(map[string]any{"k": v[0]}) })
	ci := e.snapshotKeys(t, e.prefix+"."+e.base+".ci", len(wantCI))
	if fmt.Sprint(ci) != fmt.Sprint(wantCI) {
		t.Errorf("_ci key: snapshot rows\n%v\nSELECT\n%v", ci, wantCI)
	}
	wantComp := sqlKeys(t, db, "comp", "a, b", func(v []string) string {
		var a int32
		fmt.Sscan(v[0], &a)
		return fmt.Sprint(map[string]any{"a": a, "b": v[1]})
	})
	comp := e.snapshotKeys(t, e.prefix+"."+e.base+".comp", len(wantComp))
	if fmt.Sprint(comp) != fmt.Sprint(wantComp) {
		t.Errorf("composite key: snapshot rows\n%v\nSELECT\n%v", comp, wantComp)
	}

	// The keyless table, captured explicitly: refused with the reason.
	cfg2 := strings.Replace(cfg, "include: [ci, comp]", "include: [ci, comp, nokey]", 1)
	d.stop()
	d2 := startDaemon(t, cfg2)
	d2.waitStreaming(t)
	st2, err := d2.d.StartSnapshot(context.Background(), daemon.SnapshotRequest{Tables: []string{db.name + ".nokey"}})
	if err != nil {
		t.Fatal(err)
	}
	failed := waitSnapshot(t, d2, st2.ID, "failed", time.Minute)
	if msg := failed.Shards[0].Tables[0].Error; !strings.Contains(msg, "no primary or unique NOT NULL key") || !strings.Contains(msg, "nokey") {
		t.Errorf("keyless table: %q, want the reason naming the table", msg)
	}
	// Never silently: /status warns, a metric counts it.
	if w := d2.d.Status()[0].Warnings["snapshot_failed"]; w == nil || !strings.Contains(w.Last, "nokey") {
		t.Errorf("/status warnings lack the failed snapshot: %+v", d2.d.Status()[0].Warnings)
	}
	if _, m, _ := httpGet("http://" + d2.d.AdminAddr() + "/metrics"); !strings.Contains(m, `tidemark_snapshot_tables_total{shard="shard1",state="failed"}`) {
		t.Errorf("no failed-table metric:\n%s", grepLines(m, "tidemark_snapshot_tables"))
	}
}

// A WHERE filter emits only the subset; pause stops, resume goes on, cancel
// ends; a control call without the admin token is refused.
func TestSnapshotFilterAndControl(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	fillAccounts(t, dbs[0], 3000)
	token := "it-admin-token-" + uniqueName("t")
	t.Setenv("IT_SNAPSHOT_TOKEN", token)
	cfg := strings.Replace(e.snapshotConfig([]int{0}, "current", 16, 1), "  listen: 127.0.0.1:0\n", "  listen: 127.0.0.1:0\n  token_env: IT_SNAPSHOT_TOKEN\n", 1)
	cfg = strings.Replace(cfg, "    readers: 1\n", "    readers: 1\n    max_rows_per_second: 50\n", 1) // 300 rows take seconds: time to pause
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	base := "http://" + d.d.AdminAddr()

	// No token, wrong token: refused, nothing started.
	for _, tok := range []string{"", "wrong-token-0123456789"} {
		req, _ := http.NewRequest(http.MethodPost, base+"/snapshots", strings.NewReader(`{"tables":["`+dbs[0].name+`.accounts"]}`))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /snapshots with token %q: HTTP %d, want 401", tok, resp.StatusCode)
		}
	}
	if got := d.d.Snapshots(); len(got) != 0 {
		t.Fatalf("a refused call started %d snapshots", len(got))
	}

	// The CLI, with the token: a filtered snapshot, paused, resumed.
	bin := tidemarkBinary(t)
	cli := func(args ...string) string {
		t.Helper()
		cmd := cliCommand(bin, append([]string{"snapshot", "--admin", base, "--token-env", "IT_SNAPSHOT_TOKEN"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tidemark snapshot %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := cli("start", "--tables", dbs[0].name+".accounts", "--where", "id % 10 = 0")
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	eventually(t, time.Minute, "some rows read", func() error {
		if st, _ := d.d.Snapshot(id); len(st.Shards) == 0 || len(st.Shards[0].Tables) == 0 || st.Shards[0].Tables[0].Rows == 0 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	cli("pause", id)
	waitSnapshot(t, d, id, "paused", time.Minute)
	st, _ := d.d.Snapshot(id)
	paused := st.Shards[0].Tables[0].Rows
	time.Sleep(2 * time.Second)
	if st, _ := d.d.Snapshot(id); st.Shards[0].Tables[0].Rows > paused+16*2 {
		t.Errorf("paused snapshot read on: %d rows, %d at the pause", st.Shards[0].Tables[0].Rows, paused)
	}
	cli("resume", id)
	done := waitSnapshot(t, d, id, "done", 2*time.Minute)
	if tb := done.Shards[0].Tables[0]; tb.Emitted != 300 {
		t.Errorf("WHERE id %% 10 = 0 over 3000 rows: %d emitted, want 300", tb.Emitted)
	}
	if out := cli("status", id); !strings.Contains(out, "done") || !strings.Contains(out, "accounts") {
		t.Errorf("status: %s", out)
	}
	// --watch on a finished snapshot returns at once with its status.
	if out := cli("status", id, "--watch"); !strings.Contains(out, "accounts") || !strings.Contains(out, "100") {
		t.Errorf("status --watch: %s", out)
	} else {
		t.Logf("status --watch of a finished snapshot:\n%s", out)
	}
	n := len(e.snapshotKeys(t, e.topic("accounts"), 300))
	if n != 300 {
		t.Errorf("%d op=r records, want 300", n)
	}

	// start --watch follows the live snapshot (a bar per table on a
	// terminal; mpb draws none into a pipe) and returns with the final
	// status when it ends.
	if out := cli("start", "--tables", dbs[0].name+".accounts", "--where", "id % 50 = 0", "--watch"); !strings.Contains(out, "accounts") || !strings.Contains(out, "done") {
		t.Errorf("start --watch: %s", out)
	} else {
		t.Logf("start --watch:\n%s", out)
	}

	// Cancel: it stops and says so.
	out = cli("start", "--tables", dbs[0].name+".accounts")
	id2 := strings.TrimSuffix(strings.Fields(out)[1], ":")
	cli("cancel", id2)
	if st := waitSnapshot(t, d, id2, "cancelled", time.Minute); st.Shards[0].Tables[0].State != "cancelled" {
		t.Errorf("cancelled snapshot: %+v", st)
	}
}

// A table added to the allow-list is snapshotted on SIGHUP, without
// restarting the other shards.
func TestSnapshotAllowListAddedOnSIGHUP(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	for _, db := range dbs {
		exec(t, db.DB, "CREATE TABLE "+db.name+".late (id INT PRIMARY KEY, v VARCHAR(8))",
			"INSERT INTO "+db.name+".late VALUES (1,'a'),(2,'b'),(3,'c')")
	}
	cfg := e.snapshotConfig([]int{0, 1}, "snapshot", 16, 1)
	only := strings.Replace(cfg, "    - database: '"+e.base+"_shard_*'\n", "    - database: '"+e.base+"_shard_*'\n      include: [accounts]\n", 1)
	// shard2 keeps its own allow-list: its pipeline must not restart.
	only = strings.Replace(only, "  - name: shard2\n", "  - name: shard2\n    tables:\n      - database: '"+e.base+"_shard_*'\n        include: [accounts]\n", 1)
	path := writeConfig(t, only)
	p := startProcess(t, path)
	base := waitShards(t, p, map[string][2]string{"shard1": {"streaming", ""}, "shard2": {"streaming", ""}})
	if e.topicExists(t, e.topic("late")) {
		t.Fatalf("late captured before it is allow-listed")
	}
	before := shardSince(t, base, "shard2")
	if err := os.WriteFile(path, []byte(strings.Replace(only, "      include: [accounts]\n", "      include: [accounts, late]\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, 2*time.Minute, "late snapshotted on shard1", func() error {
		if !e.topicExists(t, e.topic("late")) {
			return fmt.Errorf("no topic")
		}
		if n := len(e.snapshotKeys(t, e.topic("late"), 0)); n != 3 {
			return fmt.Errorf("%d snapshot rows", n)
		}
		return nil
	})
	if after := shardSince(t, base, "shard2"); after != before {
		t.Errorf("shard2 restarted on a reload that did not concern it (since %s → %s)", before, after)
	}
	if !strings.Contains(p.output(), "tables added to the allow-list") {
		t.Errorf("no log line about the added table")
	}
}

// shardSince is when a shard's state last changed.
func shardSince(t *testing.T, base, shard string) string {
	t.Helper()
	_, body, err := httpGet(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(body, `"shard": "`+shard+`"`)
	if i < 0 {
		t.Fatalf("no %s in %s", shard, body)
	}
	rest := body[i:]
	j := strings.Index(rest, `"since": "`)
	return rest[j : j+40]
}

// A new shard without a position (start: snapshot, the default) gets its
// tables' whole state plus every later change.
func TestSnapshotNewShardStart(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	w := newWorkload(dbs[0].DB, dbs[0].name, 0)
	if err := w.run(context.Background(), 300); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(e.config([]int{0}, ""), "  heartbeat_period: 500ms\n", "  heartbeat_period: 500ms\n  snapshot:\n    chunk_size: 32\n", 1)
	d := startDaemon(t, cfg) // start: snapshot is the default
	d.waitStreaming(t)
	if err := w.run(context.Background(), 200); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the start snapshot done", func() error {
		all := d.d.Snapshots()
		if len(all) != 1 || all[0].Reason != "start" || all[0].State != "done" {
			return fmt.Errorf("%+v", all)
		}
		return nil
	})
	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkSnapshotOrder(recs); err != nil {
		t.Fatal(err)
	}
}

// Pacing: while the source's Threads_running is above
// pause_when_threads_running the chunk readers hold (metrics and log say
// so) and read nothing; once the load is gone the snapshot completes. And
// max_rows_per_second caps what the readers read: never more than the rate
// over the time elapsed, plus a burst of one second's rows and one chunk
// per reader (an upper bound: a slow machine only reads less).
func TestSnapshotPacing(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	fillAccounts(t, dbs[0], 2000)

	t.Run("pause while Threads_running is high", func(t *testing.T) {
		cfg := strings.Replace(e.snapshotConfig([]int{0}, "current", 64, 2),
			"    readers: 2\n", "    readers: 2\n    pause_when_threads_running: 3\n", 1)
		d := startDaemon(t, cfg)
		d.waitStreaming(t)
		// Load: four statements running on the source, on their own pool.
		unload := sourceLoad(t, s, dbs[0].DB, 4, "SELECT SLEEP(120)")
		defer unload()
		metrics := func() string {
			_, m, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
			return m
		}
		eventually(t, time.Minute, "readers paused for threads_running", func() error {
			m := metrics()
			if metricSum(m, "tidemark_snapshot_paused") != 1 {
				return fmt.Errorf("not paused")
			}
			return nil
		})
		st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{dbs[0].name + ".accounts"}})
		// Held for several pressure checks (one a second): nothing read.
		for range 3 {
			time.Sleep(time.Second)
			if got, _ := d.d.Snapshot(st.ID); len(got.Shards) > 0 && len(got.Shards[0].Tables) > 0 && got.Shards[0].Tables[0].Chunks > 0 {
				t.Fatalf("chunks read under pressure: %+v", got.Shards[0].Tables[0])
			}
		}
		m := metrics()
		if metricSum(m, `tidemark_snapshot_pauses_total`) < 1 || !strings.Contains(m, `reason="threads_running"`) {
			t.Errorf("no pause counted by reason:\n%s", grepLines(m, "tidemark_snapshot_pauses"))
		}
		unload()
		done := waitSnapshot(t, d, st.ID, "done", 2*time.Minute)
		if tb := done.Shards[0].Tables[0]; tb.Rows != 2000 {
			t.Errorf("after the pressure: %+v", tb)
		}
		if metricSum(metrics(), "tidemark_snapshot_paused") != 0 {
			t.Errorf("still reported paused")
		}
	})

	t.Run("latency pacing throttles when the source slows", func(t *testing.T) {
		// The defaults pace by latency; the cap keeps the table from
		// finishing before the source slows (2000 rows: 5 s at least), and
		// is above the pacer's floor (200 rows/s), so a throttle shows.
		const rowCap = 400
		// The daemon reaches the shard through a toxiproxy, whose latency
		// toxic is the slowdown: the probe (SELECT 1) and the chunk reads
		// answer 30 ms later, on any machine. CPU load on the source was
		// not enough: the kernel schedules a short query between CPU-bound
		// ones within a fraction of a millisecond.
		n := startToxiproxy(t)
		pe := *e
		proxied := *s
		proxied.Shards = append([]string{n.add(t, "mysql-shard1", "127.0.0.1:0", s.Shards[0])}, s.Shards[1:]...)
		pe.s = &proxied
		cfg := strings.Replace(pe.snapshotConfig([]int{0}, "current", 64, 2),
			"    readers: 2\n", fmt.Sprintf("    readers: 2\n    max_rows_per_second: %d\n", rowCap), 1)
		d := startDaemon(t, cfg)
		d.waitStreaming(t)
		metrics := func() string {
			_, m, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
			return m
		}
		st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{dbs[0].name + ".accounts"}})
		eventually(t, time.Minute, "the source's baseline response time measured", func() error {
			if metricSum(grepLines(metrics(), `kind="baseline"`), "tidemark_snapshot_source_latency_seconds") <= 0 {
				return fmt.Errorf("no baseline")
			}
			return nil
		})
		slow := n.inject(t, "mysql", toxic{"latency", "latency", "downstream", `{"latency": 30}`})
		defer func() { slow() }() // the one set last: removed once
		eventually(t, time.Minute, "the readers throttled", func() error {
			m := metrics()
			if n := metricSum(m, "tidemark_snapshot_throttles_total"); n < 1 {
				return fmt.Errorf("no throttle yet:\n%s", grepLines(m, "tidemark_snapshot_source_latency"))
			}
			if r := metricSum(m, "tidemark_snapshot_paced_rows_per_second"); r >= rowCap {
				return fmt.Errorf("paced at %g rows/s", r)
			}
			return nil
		})
		slow()
		slow = func() {}
		done := waitSnapshot(t, d, st.ID, "done", 2*time.Minute)
		if tb := done.Shards[0].Tables[0]; tb.Rows != 2000 {
			t.Errorf("latency-paced snapshot: %+v", tb)
		}
	})

	t.Run("max_rows_per_second caps the readers", func(t *testing.T) {
		cfg := strings.Replace(e.snapshotConfig([]int{0}, "current", 50, 2),
			"    readers: 2\n", "    readers: 2\n    max_rows_per_second: 400\n", 1)
		d := startDaemon(t, cfg)
		d.waitStreaming(t)
		began := time.Now()
		st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{dbs[0].name + ".accounts"}})
		for range 4 {
			time.Sleep(500 * time.Millisecond)
			got, _ := d.d.Snapshot(st.ID)
			if len(got.Shards) == 0 || len(got.Shards[0].Tables) == 0 {
				continue
			}
			rows := got.Shards[0].Tables[0].Rows
			// A token bucket of one second's rows, paid after each chunk.
			if limit := int64(400*time.Since(began).Seconds()) + 400 + 2*50; rows > limit {
				t.Fatalf("%d rows read %.1fs after the start: more than max_rows_per_second allows (%d)", rows, time.Since(began).Seconds(), limit)
			}
		}
		done := waitSnapshot(t, d, st.ID, "done", 2*time.Minute)
		if tb := done.Shards[0].Tables[0]; tb.Rows != 2000 {
			t.Errorf("paced snapshot: %+v", tb)
		}
	})
}

// sourceLoad runs n copies of stmt on the source on a pool of their own
// (as the admin user) until the returned unload, which kills them; it may
// be called more than once.
func sourceLoad(t *testing.T, s *Stack, db *sql.DB, n int, stmt string) (unload func()) {
	t.Helper()
	load, err := sql.Open("mysql", fmt.Sprintf("%s:%s@%s/", s.AdminUser, s.AdminPassword, s.Shards[0]))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	loadDone := make(chan struct{}, n)
	for range n {
		c := conn(t, load)
		var id int64
		if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		go func() {
			_, _ = c.ExecContext(context.Background(), stmt)
			loadDone <- struct{}{}
		}()
	}
	return func() {
		for _, id := range ids {
			if _, err := db.Exec(fmt.Sprintf("KILL QUERY %d", id)); err != nil {
				t.Errorf("KILL QUERY %d: %v", id, err)
			}
		}
		for range ids {
			<-loadDone
		}
		if ids != nil {
			load.Close()
		}
		ids = nil
	}
}

func grepLines(page, substr string) string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A table without a PRIMARY KEY but with a UNIQUE index over NOT NULL
// columns is keyed by that index, streamed and snapshotted; one whose only
// unique index allows NULL is refused, naming the table.
func TestUniqueNotNullKey(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	db := e.createShardDBs(t, 0)[0]
	exec(t, db.DB,
		"CREATE TABLE "+db.name+".uk (n INT, code VARCHAR(10) NOT NULL, region INT NOT NULL, v INT, UNIQUE KEY by_n (n), UNIQUE KEY by_code (code, region))",
		"INSERT INTO "+db.name+".uk VALUES (1,'a',1,1),(2,'a',2,2),(3,'b',1,3),(NULL,'c',1,4)",
	)
	cfg := e.snapshotConfigIncluding(2, 1, "uk")
	d, _ := snapshotOnce(t, cfg, db.name+".uk")
	topic := e.prefix + "." + e.base + ".uk"
	// by_n allows NULL: the key is by_code, (code, region).
	want := sqlKeys(t, db, "uk", "code, region", func(v []string) string {
		var r int32
		fmt.Sscan(v[1], &r)
		return fmt.Sprint(map[string]any{"code": v[0], "region": r})
	})
	if got := e.snapshotKeys(t, topic, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("snapshot keys\n%v\nwant (the UNIQUE NOT NULL index's columns)\n%v", got, want)
	}
	exec(t, db.DB, "UPDATE "+db.name+".uk SET v = 9 WHERE code = 'b'", "DELETE FROM "+db.name+".uk WHERE code = 'a' AND region = 2")
	dec := e.decoder(t)
	eventually(t, time.Minute, "the update and the delete keyed by (code, region)", func() error {
		var ops []string
		for _, r := range e.readTopic(t, topic) {
			rec, err := dec.Decode(context.Background(), r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Op == "u" || rec.Op == "d" {
				ops = append(ops, rec.Op+fmt.Sprint(rec.Key))
			}
		}
		sort.Strings(ops) // two keys: two partitions, no order between them
		if w := "[dmap[code:a region:2] umap[code:b region:1]]"; fmt.Sprint(ops) != w {
			return fmt.Errorf("%v, want %s", ops, w)
		}
		return nil
	})
	d.stop()

	exec(t, db.DB, "CREATE TABLE "+db.name+".uknull (code VARCHAR(10) NULL, UNIQUE KEY (code))")
	cfg2 := strings.Replace(cfg, "include: [uk]", "include: [uk, uknull]", 1)
	d2 := startDaemon(t, cfg2)
	d2.waitStreaming(t)
	exec(t, db.DB, "INSERT INTO "+db.name+".uknull VALUES ('x')")
	eventually(t, time.Minute, "shard failed on the table without a usable key", func() error {
		st := d2.d.Status()[0]
		if st.State != daemon.StateFailed || !strings.Contains(st.LastError, db.name+".uknull") || !strings.Contains(st.LastError, "UNIQUE index over NOT NULL") {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}

// Memory is bounded in bytes, not rows: with memory_bytes 1MiB, chunks of
// 1000 rows of 100 KB each are cut at the reader's share (about ten rows),
// and every row still arrives once.
func TestSnapshotMemoryBound(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	db := e.createShardDBs(t, 0)[0]
	exec(t, db.DB, "CREATE TABLE "+db.name+".big (id INT PRIMARY KEY, body MEDIUMTEXT NOT NULL)")
	for i := 0; i < 100; i += 10 {
		exec(t, db.DB, fmt.Sprintf("INSERT INTO %s.big SELECT seq, REPEAT(CHAR(65 + seq MOD 26), 100000) FROM %s.seq_%d_to_%d", db.name, db.name, i+1, i+10))
	}
	cfg := strings.Replace(e.snapshotConfig([]int{0}, "current", 1000, 1),
		"    readers: 1\n", "    readers: 1\n    memory_bytes: 1MiB\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{db.name + ".big"}})
	done := waitSnapshot(t, d, st.ID, "done", 2*time.Minute)
	tb := done.Shards[0].Tables[0]
	if tb.Emitted != 100 || tb.Chunks < 8 {
		t.Errorf("%+v: want 100 rows in chunks cut by memory (at least 8 of them), not one chunk of 1000", tb)
	}
	if keys := e.snapshotKeys(t, e.topic("big"), 100); len(keys) != 100 {
		t.Errorf("%d op=r records, want 100", len(keys))
	}
	t.Logf("100 rows of 100 KB with memory_bytes 1MiB: %d chunks", tb.Chunks)
}
