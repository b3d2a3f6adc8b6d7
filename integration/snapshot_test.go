package integration

// Incremental snapshots on the real stack (issue 9).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// snapshotConfig is a test's daemon configuration with small chunks: start
// at the current position (snapshots only when asked) unless start is
// given.
func (e *e2eSetup) snapshotConfig(shards []int, start string, chunk, readers int) string {
	cfg := e.config(shards, "")
	return strings.Replace(cfg, "  heartbeat_period: 500ms\n", fmt.Sprintf(
		"  heartbeat_period: 500ms\n  start: %s\n  snapshot:\n    chunk_size: %d\n    readers: %d\n", start, chunk, readers), 1)
}

// startSnapshot asks the in-process daemon for a snapshot.
func startSnapshot(t *testing.T, d *inProcessDaemon, req daemon.SnapshotRequest) daemon.SnapshotStatus {
	t.Helper()
	st, err := d.d.StartSnapshot(context.Background(), req)
	if err != nil {
		t.Fatalf("start snapshot %+v: %v", req, err)
	}
	return st
}

// waitSnapshot waits until a snapshot reaches state want.
func waitSnapshot(t *testing.T, d *inProcessDaemon, id, want string, timeout time.Duration) daemon.SnapshotStatus {
	t.Helper()
	var st daemon.SnapshotStatus
	eventually(t, timeout, "snapshot "+id+" "+want, func() error {
		var ok bool
		st, ok = d.d.Snapshot(id)
		if !ok {
			return fmt.Errorf("unknown")
		}
		if st.State != want {
			b, _ := json.Marshal(st)
			return fmt.Errorf("state %s: %s", st.State, b)
		}
		return nil
	})
	return st
}

// checkSnapshotOrder checks every key's records in partition order: no
// snapshot row (op r) older than a change of its key already written, and no
// snapshot row after the key's delete (a deleted row never comes back).
func checkSnapshotOrder(recs []decodedAccount) error {
	byKey := map[int64][]decodedAccount{}
	for _, r := range recs {
		byKey[r.id] = append(byKey[r.id], r)
	}
	var problems []string
	for id, rs := range byKey {
		sort.Slice(rs, func(i, j int) bool { return rs[i].offset < rs[j].offset })
		var last int32
		deleted := false
		for _, r := range rs {
			switch {
			case r.tombstone:
			case r.op == "d":
				deleted, last = true, max(last, r.version)
			case r.op == "r" && deleted:
				problems = append(problems, fmt.Sprintf("id %d: snapshot row (version %d) at offset %d after its delete", id, r.version, r.offset))
			case r.op == "r" && r.version < last:
				problems = append(problems, fmt.Sprintf("id %d: snapshot row of version %d at offset %d after version %d", id, r.version, r.offset, last))
			default:
				deleted, last = false, max(last, r.version)
			}
		}
	}
	return problemsError(problems)
}

func countOp(recs []decodedAccount, op string) int {
	n := 0
	for _, r := range recs {
		if r.op == op && !r.tombstone {
			n++
		}
	}
	return n
}

// Writers insert, update and delete rows (and change keys) while the table
// is snapshotted in chunks of 16 by four readers: the topic's final state
// equals the table, no deleted row comes back, no snapshot row is older than
// a change of its key written before it, and the rows nobody touched arrive
// as snapshot rows.
func TestSnapshotWhileWriting(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	w := newWorkload(dbs[0].DB, dbs[0].name, 0)
	if err := w.run(context.Background(), 400); err != nil { // rows that exist before the snapshot
		t.Fatal(err)
	}
	before := len(selectAccounts(t, dbs[0].DB, dbs[0].name))
	d := startDaemon(t, e.snapshotConfig([]int{0}, "current", 16, 4))
	done, recs := snapshotWhileWriting(t, e, dbs, d, w, dbs[0].name+".accounts")
	tbl := done.Shards[0].Tables[0]
	if reads := countOp(recs, "r"); reads == 0 || int64(reads) != tbl.Emitted || tbl.Rows < int64(before)/2 || tbl.Chunks < 4 {
		t.Errorf("snapshot %+v: %d op=r records, %d rows before it started", tbl, reads, before)
	}
	t.Logf("snapshot of %d rows while writing: %+v", before, tbl)
}

// snapshotConfigIncluding is snapshotConfig for shard 1 (start: current)
// capturing only the tables of the YAML flow list include ("a, b").
func (e *e2eSetup) snapshotConfigIncluding(chunk, readers int, include string) string {
	return strings.Replace(e.snapshotConfig([]int{0}, "current", chunk, readers),
		"    - database: '"+e.base+"_shard_*'\n", "    - database: '"+e.base+"_shard_*'\n      include: ["+include+"]\n", 1)
}

// snapshotOnce starts a daemon on cfg, snapshots tables once it streams and
// returns the daemon and the snapshot once done.
func snapshotOnce(t *testing.T, cfg string, tables ...string) (*inProcessDaemon, daemon.SnapshotStatus) {
	t.Helper()
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: tables})
	return d, waitSnapshot(t, d, st.ID, "done", 2*time.Minute)
}

// snapshotWhileWriting snapshots table while w keeps writing, and returns
// the finished snapshot and the topic's records once its final state equals
// the source, checked for snapshot rows older than a change of their key.
func snapshotWhileWriting(t *testing.T, e *e2eSetup, dbs map[int]*sqlDB, d *inProcessDaemon, w *workload, table string) (daemon.SnapshotStatus, []decodedAccount) {
	t.Helper()
	d.waitStreaming(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writes := make(chan error, 1)
	go func() { writes <- w.run(ctx, 0) }()
	st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{table}})
	done := waitSnapshot(t, d, st.ID, "done", 3*time.Minute)
	cancel()
	if err := <-writes; err != nil {
		t.Fatal(err)
	}
	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkSnapshotOrder(recs); err != nil {
		t.Fatal(err)
	}
	return done, recs
}

// kill -9 in the middle of a snapshot: the restarted daemon resumes from the
// progress stored with its position (the rows it reads are the table minus
// what the stored progress says was done, not the whole table again), and
// the final state is exact. The snapshot is paced so that the kill lands
// well after positions carrying progress were committed (every 250 ms).
func TestSnapshotResumesAfterKill(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	const rows = 20000
	fillAccounts(t, dbs[0], rows)
	cfg := writeConfig(t, strings.Replace(e.snapshotConfig([]int{0}, "current", 64, 2),
		"    readers: 2\n", "    readers: 2\n    max_rows_per_second: 5000\n", 1))
	p := startProcess(t, cfg)
	base := waitShards(t, p, map[string][2]string{"shard1": {"streaming", ""}})
	id := postSnapshot(t, base, daemon.SnapshotRequest{Tables: []string{dbs[0].name + ".accounts"}})
	var chunksAtKill int64
	eventually(t, 2*time.Minute, "half of the snapshot emitted", func() error {
		st := getSnapshot(t, base, id)
		if len(st.Shards) == 0 || len(st.Shards[0].Tables) == 0 {
			return fmt.Errorf("no table yet")
		}
		tb := st.Shards[0].Tables[0]
		if tb.Emitted < rows/2 {
			return fmt.Errorf("%d emitted", tb.Emitted)
		}
		chunksAtKill = tb.Chunks
		return nil
	})
	_ = p.cmd.Process.Kill() // kill -9
	<-p.done

	p2 := startProcess(t, cfg)
	base2 := waitShards(t, p2, map[string][2]string{"shard1": {"streaming", ""}})
	var final daemon.SnapshotStatus
	eventually(t, 3*time.Minute, "the snapshot done after the restart", func() error {
		final = getSnapshot(t, base2, id)
		if final.State != "done" {
			return fmt.Errorf("state %s", final.State)
		}
		return nil
	})
	tb := final.Shards[0].Tables[0]
	expected := int64((rows + 63) / 64)
	if tb.Chunks < expected || tb.Chunks > expected+4*2 {
		t.Errorf("chunks %d, want about %d: the restart did not resume from the stored progress (%d chunks at the kill)", tb.Chunks, expected, chunksAtKill)
	}
	_, metrics, _ := httpGet(base2 + "/metrics")
	read := int64(metricSum(metrics, "tidemark_snapshot_rows_read_total"))
	// The progress counts every row once (no writes here): what the
	// restarted daemon did not read itself came from the stored progress.
	stored := tb.Rows - read
	if tb.Rows != rows || read <= 0 || stored <= 0 {
		t.Errorf("progress counts %d rows of %d; the restarted daemon read %d: it did not resume from the stored progress", tb.Rows, rows, read)
	}
	e.waitFinalState(t, dbs, 2*time.Minute)
	t.Logf("chunks at the kill %d, in all %d (of %d); stored progress %d rows, rows read after the restart %d", chunksAtKill, tb.Chunks, expected, stored, read)
}

// fillAccounts inserts n rows into a shard's accounts table, fast.
func fillAccounts(t *testing.T, db *sqlDB, n int) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var vals []string
		for i := start; i < min(start+1000, n); i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'fill%d@example.com', 1, %d.50, NULL)", 1_000_000_000+i, i, i%1000))
		}
		exec(t, db.DB, "INSERT INTO "+db.name+".accounts (id, email, version, balance, note) VALUES "+strings.Join(vals, ","))
	}
}

// postSnapshot starts a snapshot over HTTP and returns its id.
func postSnapshot(t *testing.T, base string, req daemon.SnapshotRequest) string {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(base+"/snapshots", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st daemon.SnapshotStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /snapshots: HTTP %d, %v", resp.StatusCode, err)
	}
	return st.ID
}

func getSnapshot(t *testing.T, base, id string) daemon.SnapshotStatus {
	t.Helper()
	_, body, err := httpGet(base + "/snapshots/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var st daemon.SnapshotStatus
	_ = json.Unmarshal([]byte(body), &st)
	return st
}

// metricSum adds every series of a metric in a /metrics page.
func metricSum(page, name string) float64 {
	var sum float64
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			var v float64
			fmt.Sscan(f[len(f)-1], &v)
			sum += v
		}
	}
	return sum
}

// Two shards snapshot one table; shard1's part is small and done long before
// shard2's: deletes on shard1 meanwhile are not lost.
func TestSnapshotTwoShardsDeletesWhileOtherRuns(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	fillAccounts(t, dbs[0], 200)
	for start := 0; start < 30000; start += 1000 { // shard2: many rows, distinct ids
		var vals []string
		for i := start; i < start+1000; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'b%d@example.com', 1, 1.00, NULL)", 2_000_000_000+i, i))
		}
		exec(t, dbs[1].DB, "INSERT INTO "+dbs[1].name+".accounts (id, email, version, balance, note) VALUES "+strings.Join(vals, ","))
	}
	cfg := e.snapshotConfig([]int{0, 1}, "current", 16, 1)
	cfg = strings.Replace(cfg, "  - name: shard2\n", "  - name: shard2\n    snapshot:\n      max_rows_per_second: 3000\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{e.base + "_shard_*.accounts"}})
	eventually(t, 2*time.Minute, "shard1 done, shard2 not", func() error {
		cur, _ := d.d.Snapshot(st.ID)
		if len(cur.Shards) != 2 || cur.Shards[0].State != "done" || cur.Shards[1].State == "done" {
			return fmt.Errorf("%+v", cur.Shards)
		}
		return nil
	})
	exec(t, dbs[0].DB, "DELETE FROM "+dbs[0].name+".accounts WHERE id % 3 = 0")
	waitSnapshot(t, d, st.ID, "done", 3*time.Minute)
	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkSnapshotOrder(recs); err != nil {
		t.Fatal(err)
	}
}

// The signal-table variant: watermark rows written on the source instead of
// GTID reads. Writers change the table while it is snapshotted; the final
// state is exact, snapshot rows are never older than a change of their key,
// and the watermark rows never reach Kafka and are deleted afterwards.
func TestSnapshotSignalTable(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	signals := dbs[0].name + ".tidemark_signals"
	exec(t, dbs[0].DB,
		"CREATE TABLE "+signals+" (id VARCHAR(64) PRIMARY KEY, kind VARCHAR(8) NOT NULL)",
		"GRANT INSERT, DELETE ON "+signals+" TO '"+s.User+"'@'127.0.0.1'",
	)
	w := newWorkload(dbs[0].DB, dbs[0].name, 0)
	if err := w.run(context.Background(), 300); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(e.snapshotConfig([]int{0}, "current", 16, 2),
		"    readers: 2\n", "    readers: 2\n    signal_table: "+signals+"\n", 1)
	d := startDaemon(t, cfg)
	done, recs := snapshotWhileWriting(t, e, dbs, d, w, dbs[0].name+".accounts")
	tbl := done.Shards[0].Tables[0]
	if reads := countOp(recs, "r"); reads == 0 || int64(reads) != tbl.Emitted || tbl.Chunks < 2 {
		t.Errorf("snapshot %+v: %d op=r records", tbl, reads)
	}
	if e.topicExists(t, e.topic("tidemark_signals")) {
		t.Errorf("the signal table's rows reached Kafka")
	}
	var left int
	if err := dbs[0].DB.QueryRow("SELECT COUNT(*) FROM " + signals).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d watermark rows left in %s (err %v)", left, signals, err)
	}
	t.Logf("signal-table snapshot while writing: %+v", tbl)
}
