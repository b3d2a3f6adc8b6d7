package integration

// SIGKILL of the daemon process at random moments while it snapshots, while
// the source changes its schema and while large records are offloaded
// (issue 11), and two daemons with the same server_id on one shard. Every
// scenario then checks the exactly-once contract against MariaDB's own
// ledger (a read_committed consumer finds every committed (shard, GTID,
// row) once, and nothing else), runs `tidemark verify`, and checks what the
// scenario adds: snapshot rows, schemas, claim-check objects.
//
// TIDEMARK_KILLS sets the kills per scenario: 3 in make test, 20 in make
// soak.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/serde"
)

// killsPerScenario is TIDEMARK_KILLS (make soak: 20), 3 by default.
func killsPerScenario() int { return envInt("TIDEMARK_KILLS", 3) }

// killer restarts `tidemark run -c cfg` after every SIGKILL and keeps every
// process's log for a failing test.
type killer struct {
	t      *testing.T
	cfg    string
	shards int
	procs  []*daemonProcess
}

func newKiller(t *testing.T, cfg string, shards int) *killer {
	k := &killer{t: t, cfg: cfg, shards: shards}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range k.procs {
				out := p.output()
				if len(out) > 20000 {
					out = "...\n" + out[len(out)-20000:]
				}
				t.Logf("process %d log:\n%s", i+1, out)
			}
		}
	})
	k.start()
	return k
}

// start runs a new process and waits until its shards stream.
func (k *killer) start() {
	k.t.Helper()
	p := startProcess(k.t, k.cfg)
	k.procs = append(k.procs, p)
	waitProcessStreaming(k.t, p, k.shards)
}

// base is the current process's admin URL.
func (k *killer) base() string {
	return "http://" + adminAddrFromLog(k.procs[len(k.procs)-1].output())
}

// kill sends SIGKILL to the current process and waits for its exit.
func (k *killer) kill() {
	k.t.Helper()
	p := k.procs[len(k.procs)-1]
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		k.t.Fatal(err)
	}
	<-p.done
}

// snapshotRecord is one op=r record of a topic, read_committed.
type snapshotRecord struct {
	id     int64
	v      int64
	shard  string // source.name
	header string // tidemark.id
	key    []byte
	value  []byte
}

// snapshotIDPattern is the tidemark.id of a snapshot row
// (docs/wire-format.md, "Headers"): shard/snapshot-<24 hex>/0/part.
var snapshotIDPattern = regexp.MustCompile(`^([^/]+)/snapshot-([0-9a-f]{24})/0/0$`)

// ledgerSnapshotRows decodes the ledger topic's op=r records.
func ledgerSnapshotRows(t *testing.T, e *e2eSetup) []snapshotRecord {
	t.Helper()
	dec := e.decoder(t)
	var out []snapshotRecord
	for _, r := range e.readTopic(t, e.topic(eoTable)) {
		if r.Value == nil {
			continue
		}
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatalf("decode partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		if rec.Op != "r" {
			continue
		}
		sr := snapshotRecord{header: string(r.Headers[serde.HeaderEventID]), key: r.Key, value: r.Value}
		sr.id, _ = rec.Key["id"].(int64)
		sr.v, _ = rec.After["v"].(int64)
		sr.shard, _ = rec.Source["name"].(string)
		out = append(out, sr)
	}
	return out
}

// SIGKILL at random moments while two shards snapshot 20,000 rows each (in
// paced chunks of 256, two readers) while the ledger writers stream
// transactions on both; each restart resumes the snapshot, which ends done.
//
// Exactly once for snapshot rows, within one snapshot: a snapshot row has
// no GTID; its tidemark.id is <shard>/snapshot-<SHA-256 of key and value>/0/0
// and its progress (each reader's last key) is committed in the same Kafka
// transaction as the chunk's rows. A chunk whose transaction a kill aborted
// is read again after the restart; a committed one never is. So, read
// committed: every row that existed before the snapshot and that no writer
// touched has exactly one op=r record, with MariaDB's value; a row the
// writers changed has at most one (DBLog drops it when the binlog changed the
// key in its chunk's window, and rows inserted behind the cursor are not
// read); no key has two, and no tidemark.id repeats. The streamed changes
// are checked against the ledger as ever, and tidemark verify agrees.
func TestKillDuringSnapshot(t *testing.T) {
	e, dbs := ledgerSetup(t, 0, 1)
	const rows = 20000 // per shard
	prefilled := map[int64]int64{}
	for i, db := range dbs {
		for start := 0; start < rows; start += 2000 {
			var vals []string
			for j := start; j < start+2000; j++ {
				vals = append(vals, fmt.Sprintf("(%d, %d)", int64(i+1)*100_000_000+int64(j), j%977))
			}
			exec(t, db.DB, "INSERT INTO "+db.name+"."+eoTable+" VALUES "+strings.Join(vals, ","))
		}
		for id, v := range ledgerTable(t, db.DB, db.name) { // MariaDB's values
			prefilled[id] = v
		}
	}
	kills := killsPerScenario()
	// Paced so that the snapshot outlasts the kills: about 1.5 s of
	// running per kill and 4 s more, the restarts not counted.
	rate := rows * 2 / (kills*3 + 8)
	cfg := writeConfig(t, strings.Replace(e.snapshotConfig([]int{0, 1}, "current", 256, 2),
		"    readers: 2\n", fmt.Sprintf("    readers: 2\n    max_rows_per_second: %d\n", rate), 1))
	k := newKiller(t, cfg, 2)
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	id := postSnapshot(t, k.base(), daemon.SnapshotRequest{Tables: []string{e.base + "_shard_*." + eoTable}})
	during := 0
	for i := range kills {
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		st := getSnapshot(t, k.base(), id)
		var emitted int64
		for _, s := range st.Shards {
			for _, tb := range s.Tables {
				emitted += tb.Emitted
			}
		}
		if st.State != "done" {
			during++
		}
		k.kill()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond) // writes go on while it is down
		k.start()
		t.Logf("kill %d of %d: snapshot %s, %d rows emitted at the kill; %d transactions so far", i+1, kills, st.State, emitted, l.txns)
	}
	if during == 0 {
		t.Fatalf("no kill landed while the snapshot ran (rate %d rows/s)", rate)
	}
	// The writers stop a second after the last restart, so that the rest
	// of the snapshot does not compete with them on a small machine.
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	var final daemon.SnapshotStatus
	eventually(t, 4*time.Minute, "the snapshot done after the kills", func() error {
		final = getSnapshot(t, k.base(), id)
		if final.State != "done" {
			b, _ := json.Marshal(final)
			return fmt.Errorf("state %s: %s", final.State, b)
		}
		return nil
	})
	n := waitExactlyOnce(t, e, l)

	// The snapshot rows, read committed.
	recs := ledgerSnapshotRows(t, e)
	perKey := map[int64]int{}
	headers := map[string]int{}
	var problems []string
	for _, r := range recs {
		perKey[r.id]++
		headers[r.header]++
		m := snapshotIDPattern.FindStringSubmatch(r.header)
		if m == nil || m[1] != r.shard {
			problems = append(problems, fmt.Sprintf("id %d: tidemark.id %q is not %s/snapshot-<24 hex>/0/0", r.id, r.header, r.shard))
			continue
		}
		h := sha256.New()
		h.Write(r.key)
		h.Write([]byte{0})
		h.Write(r.value)
		if want := hex.EncodeToString(h.Sum(nil)[:12]); m[2] != want {
			problems = append(problems, fmt.Sprintf("id %d: tidemark.id %q, SHA-256 of its key and value %s", r.id, r.header, want))
		}
		if want, ok := prefilled[r.id]; ok && r.v != want {
			problems = append(problems, fmt.Sprintf("id %d: snapshot row v=%d, MariaDB %d", r.id, r.v, want))
		}
	}
	for id, c := range perKey {
		if c > 1 {
			problems = append(problems, fmt.Sprintf("id %d: %d snapshot rows in one snapshot", id, c))
		}
	}
	for id := range prefilled {
		if perKey[id] != 1 {
			problems = append(problems, fmt.Sprintf("prefilled id %d: %d snapshot rows, want 1", id, perKey[id]))
		}
	}
	for h, c := range headers {
		if c > 1 {
			problems = append(problems, fmt.Sprintf("tidemark.id %s %d times", h, c))
		}
	}
	if err := problemsError(problems); err != nil {
		t.Fatal(err)
	}
	var emitted, superseded int64
	for _, s := range final.Shards {
		for _, tb := range s.Tables {
			emitted += tb.Emitted
			superseded += tb.Superseded
		}
	}
	if emitted != int64(len(recs)) {
		t.Errorf("the snapshot's progress counts %d rows emitted, the topic holds %d op=r records (read committed)", emitted, len(recs))
	}
	t.Logf("%d kills (%d while the snapshot ran), %d transactions, %d streamed record ids each exactly once; %d snapshot rows (%d prefilled, each once), %d superseded",
		kills, during, l.txns, n, len(recs), len(prefilled), superseded)
	t.Logf("verify: %s", verifyAgrees(t, cfg))
}

// httpShardStatus is one shard's entry in an in-process daemon's /status.
func httpShardStatus(d *inProcessDaemon, shard string) (daemon.ShardStatus, error) {
	return adminShardStatus(d.d.AdminAddr(), shard)
}

// Two daemons with one configuration, the same server_id and the same
// transactional id for one shard, started a second apart while the ledger
// writers stream: MariaDB drops whichever binlog connection registered first
// with that server_id and Kafka fences the older producer. Exactly one
// daemon writes in the end; the other's shard is parked (failed) with the
// fenced or server_id_conflict error and its action in /status, and stays
// so; every committed row arrives exactly once.
func TestExactlyOnceSameServerID(t *testing.T) {
	e, all := ledgerSetup(t, 0, 1)
	dbs := map[int]*sqlDB{0: all[0]} // the writes: shard1 only
	shard1 := e.config([]int{0}, "") // rendered once: one server_id for both
	// Each daemon also has a shard of its own (on the stack's second
	// server, each with its own server_id and name), which keeps the daemon
	// and its /status up when the contested shard is parked.
	side := func(name string) string {
		c := e.config([]int{1}, "")
		return shard1 + strings.Replace(c[strings.Index(c, "  - name: shard2\n"):], "name: shard2",
			"name: "+name+"\n    accept_missing_position: true", 1) // added to a fleet whose positions topic has shard1
	}
	cfgA, cfgB := side("side_a"), side("side_b")
	first := startDaemon(t, cfgA)
	first.waitStreaming(t)
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	time.Sleep(time.Second)
	second := startDaemon(t, cfgB)
	daemons := map[string]*inProcessDaemon{"first": first, "second": second}
	var writer, parked string
	settled := func() error {
		writer, parked = "", ""
		states := map[string]daemon.ShardStatus{}
		for name, d := range daemons {
			st, err := httpShardStatus(d, "shard1")
			if err != nil {
				return err
			}
			states[name] = st
			switch {
			case st.State == daemon.StateStreaming:
				writer = name
			case st.State == daemon.StateFailed && (st.LastErrorClass == "fenced" || st.LastErrorClass == "server_id_conflict"):
				parked = name
			}
		}
		if writer == "" || parked == "" {
			return fmt.Errorf("not one streaming and one parked: first %s/%s (%s), second %s/%s (%s)",
				states["first"].State, states["first"].LastErrorClass, states["first"].LastError,
				states["second"].State, states["second"].LastErrorClass, states["second"].LastError)
		}
		return nil
	}
	eventually(t, 2*time.Minute, "one daemon streaming, the other parked", settled)
	st, _ := httpShardStatus(daemons[parked], "shard1")
	if st.Action == "" || !(strings.Contains(st.LastError, "another Tidemark process") || strings.Contains(st.LastError, "server_id")) {
		t.Errorf("the parked shard's error does not say what happened: %q (action %q)", st.LastError, st.Action)
	}
	time.Sleep(2 * time.Second) // more transactions, which only the writer may write
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	n := waitExactlyOnce(t, e, l)
	if err := settled(); err != nil {
		t.Errorf("after the writes: %v", err)
	}
	daemons[writer].waitCaughtUp(t, dbs)
	t.Logf("the %s daemon writes, the %s is parked: %s: %s (action: %s); %d transactions, %d record ids each exactly once",
		writer, parked, st.LastErrorClass, st.LastError, st.Action, l.txns, n)
	t.Logf("verify: %s", verifyAgrees(t, map[string]string{"first": cfgA, "second": cfgB}[writer]))
}

// ddlRow is a row image as MariaDB returned it by SELECT *: column → value
// as text ("NULL" for NULL).
type ddlRow map[string]string

// ddlExpect is what MariaDB said about one row change of a transaction:
// the row before and after the statement (nil when there is none).
type ddlExpect struct {
	before, after ddlRow
	columns       string // the table's columns at the change, for messages
}

// ddlWriter commits row changes and schema changes to one table in one
// session, in order: it knows the table's columns at every GTID.
type ddlWriter struct {
	db    *sqlDB
	conn  *sql.Conn // the one session: @@last_gtid is its last transaction's
	shard string
	l     *gtidLedger
	mu    sync.Mutex
	want  map[string]ddlExpect // shard/GTID/row → expected images
	ddls  []string             // "GTID statement" of every DDL
	cols  []string             // extra columns now, in order
	types map[string]string    // extra column → int or bigint
	next  int64
	live  []int64
}

// selectRow is SELECT * of one row in the transaction (nil: no row).
func selectRow(tx *sql.Tx, table string, id int64) (ddlRow, error) {
	rows, err := tx.Query("SELECT * FROM "+table+" WHERE id = ?", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := ddlRow{}
	for i, c := range cols {
		out[c] = "NULL"
		if vals[i].Valid {
			out[c] = vals[i].String
		}
	}
	return out, rows.Err()
}

// values are the extra columns' values for row id: an INT column a
// small number, a BIGINT column one INT cannot hold.
func (w *ddlWriter) values(id int64, round int64) (cols []string, args []any) {
	for _, c := range w.cols {
		cols = append(cols, c)
		if w.types[c] == "bigint" {
			args = append(args, 5_000_000_000+id*10+round)
		} else {
			args = append(args, id%100_000+round)
		}
	}
	return cols, args
}

// txn commits one transaction of 1-3 row changes.
func (w *ddlWriter) txn(rng *rand.Rand) error {
	table := w.db.name + "." + eoTable
	tx, err := w.conn.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	n := 1 + rng.IntN(3)
	exp := make([]ddlExpect, n)
	dels := map[int]bool{}
	live, next := append([]int64(nil), w.live...), w.next
	columns := "id v " + strings.Join(w.cols, " ")
	for i := range n {
		var q string
		var args []any
		var id int64
		switch op := rng.IntN(10); {
		case op < 5 || len(live) == 0:
			next++
			id = next
			cols, vals := w.values(id, 0)
			q = "INSERT INTO " + table + " (" + strings.Join(append([]string{"id", "v"}, cols...), ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)+1) + ")"
			args = append([]any{id, rng.Int64N(1000)}, vals...)
			live = append(live, id)
		case op < 8:
			id = live[rng.IntN(len(live))]
			cols, vals := w.values(id, 1+rng.Int64N(9))
			q = "UPDATE " + table + " SET v = v + 1"
			for _, c := range cols {
				q += ", " + c + " = ?"
			}
			q += " WHERE id = ?"
			args = append(vals, id)
		default:
			j := rng.IntN(len(live))
			id = live[j]
			live = append(live[:j], live[j+1:]...)
			q = "DELETE FROM " + table + " WHERE id = ?"
			args = []any{id}
			dels[i+1] = true
		}
		before, err := selectRow(tx, table, id)
		if err == nil {
			_, err = tx.Exec(q, args...)
		}
		var after ddlRow
		if err == nil {
			after, err = selectRow(tx, table, id)
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("%s %v: %w", q, args, err)
		}
		exp[i] = ddlExpect{before: before, after: after, columns: columns}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	gtid, err := w.lastGTID()
	if err != nil {
		return err
	}
	w.live, w.next = live, next
	w.mu.Lock()
	for i, x := range exp {
		w.want[w.shard+"/"+gtid+"/"+strconv.Itoa(i+1)] = x
	}
	w.mu.Unlock()
	w.l.committed(w.shard, gtid, n, dels)
	return nil
}

func (w *ddlWriter) lastGTID() (string, error) {
	var gtid string
	err := w.conn.QueryRowContext(context.Background(), "SELECT @@last_gtid").Scan(&gtid)
	return gtid, err
}

// ddl runs the round's schema change: round 3k+1 adds column c<k> as INT,
// 3k+2 widens it to BIGINT, 3k+3 drops the column before it.
func (w *ddlWriter) ddl(round int) error {
	k := round/3 + 1
	c := fmt.Sprintf("c%d", k)
	var stmt string
	switch round % 3 {
	case 0:
		stmt = "ADD COLUMN " + c + " INT NULL"
	case 1:
		stmt = "MODIFY COLUMN " + c + " BIGINT NULL"
	default:
		if len(w.cols) < 2 {
			return nil
		}
		stmt = "DROP COLUMN " + w.cols[0]
	}
	if _, err := w.conn.ExecContext(context.Background(), "ALTER TABLE "+w.db.name+"."+eoTable+" "+stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	switch round % 3 {
	case 0:
		w.cols, w.types[c] = append(w.cols, c), "int"
	case 1:
		w.types[c] = "bigint"
	default:
		w.cols = w.cols[1:]
	}
	gtid, err := w.lastGTID()
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.ddls = append(w.ddls, gtid+" "+stmt)
	w.mu.Unlock()
	return nil
}

// SIGKILL at random moments while one session commits transactions and,
// every 20-60 of them, an ALTER TABLE (ADD COLUMN c<k> INT, MODIFY it to
// BIGINT, DROP COLUMN of the one before), half of the kills right after a
// DDL commits: every row change is in the topic exactly once (read
// committed), encoded with the table's schema at its GTID: its before and
// after images have exactly the columns MariaDB's SELECT * returned in the
// transaction, with MariaDB's values (a BIGINT value above INT's range
// right after the MODIFY); tidemark verify agrees.
func TestKillDuringSchemaChange(t *testing.T) {
	e, dbs := ledgerSetup(t, 0)
	cfg := writeConfig(t, e.config([]int{0}, ""))
	k := newKiller(t, cfg, 1)
	l := newLedger()
	conn, err := dbs[0].Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := &ddlWriter{db: dbs[0], conn: conn, shard: "shard1", l: l, want: map[string]ddlExpect{}, types: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	ddlDone := make(chan struct{}, 1)
	werr := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 11))
		round := 0
		for ctx.Err() == nil {
			for range 20 + rng.IntN(40) {
				if err := w.txn(rng); err != nil {
					werr <- err
					return
				}
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
			if err := w.ddl(round); err != nil {
				werr <- err
				return
			}
			round++
			select {
			case ddlDone <- struct{}{}:
			default:
			}
		}
		werr <- nil
	}()
	kills := killsPerScenario()
	for i := range kills {
		how := "at a random moment"
		if i%2 == 0 {
			select {
			case <-ddlDone: // a stale one: wait for the next
			default:
			}
			select {
			case <-ddlDone:
			case err := <-werr:
				t.Fatalf("workload: %v", err)
			}
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
			how = "right after a DDL"
		} else {
			time.Sleep(time.Duration(200+rand.IntN(1200)) * time.Millisecond)
		}
		k.kill()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		k.start()
		w.mu.Lock()
		t.Logf("kill %d of %d %s survived (%d DDLs, %d transactions so far)", i+1, kills, how, len(w.ddls), l.txns)
		w.mu.Unlock()
	}
	time.Sleep(time.Second)
	cancel()
	if err := <-werr; err != nil {
		t.Fatalf("workload: %v", err)
	}
	n := waitExactlyOnce(t, e, l)

	dec := e.decoder(t)
	topic := e.topic(eoTable)
	var problems []string
	checked := 0
	show := func(r map[string]any) string {
		keys := make([]string, 0, len(r))
		for c, v := range r {
			keys = append(keys, fmt.Sprintf("%s=%v", c, v))
		}
		sort.Strings(keys)
		return strings.Join(keys, " ")
	}
	compare := func(id, which string, got map[string]any, want ddlRow, columns string) {
		if want == nil {
			if got != nil {
				problems = append(problems, fmt.Sprintf("%s: a %s image %s, MariaDB had no row", id, which, show(got)))
			}
			return
		}
		text := map[string]string{}
		for c, v := range got {
			text[c] = fmt.Sprint(v)
			if v == nil {
				text[c] = "NULL"
			}
		}
		if fmt.Sprint(text) != fmt.Sprint(map[string]string(want)) {
			problems = append(problems, fmt.Sprintf("%s (columns then: %s): %s image %v, MariaDB's %v", id, columns, which, text, map[string]string(want)))
		}
	}
	for _, r := range e.readTopic(t, topic) {
		id := string(r.Headers[serde.HeaderEventID])
		if r.Value == nil || strings.Contains(id, "/snapshot-") {
			continue
		}
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatalf("decode %s: %v", id, err)
		}
		x, ok := w.want[strings.TrimSuffix(id, "/0")]
		if !ok {
			problems = append(problems, "no expectation for "+id)
			continue
		}
		compare(id, "before", rec.Before, x.before, x.columns)
		compare(id, "after", rec.After, x.after, x.columns)
		checked++
	}
	if err := problemsError(problems); err != nil {
		t.Fatalf("%v\nDDLs: %v", err, w.ddls)
	}
	t.Logf("%d kills, %d DDLs, %d transactions, %d record ids exactly once, %d row images compared with MariaDB's",
		kills, len(w.ddls), l.txns, n, checked)
	t.Logf("verify: %s", verifyAgrees(t, cfg))
}

// bucketNames lists a bucket's object names.
func bucketNames(t *testing.T, client *storage.Client, bucket string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	it := client.Bucket(bucket).Objects(context.Background(), nil)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[a.Name] = true
	}
}

// blobExpect is MariaDB's SHA2(body, 256) before and after one row change
// ("" for no row).
type blobExpect struct{ before, after string }

// writeBlobs commits transactions of 1-2 changes of rows with a LONGBLOB
// body on db until ctx is done, noting them in l and their bodies'
// SHA-256 (MariaDB's SHA2) in want: mostly random bodies of 20-200 KB (over
// the 16 KiB threshold, incompressible: offloaded), some of 1 KB (inline),
// every 40th of 3 MB.
func writeBlobs(ctx context.Context, db *sqlDB, shard string, base int64, l *gtidLedger, mu *sync.Mutex, want map[string]blobExpect) error {
	c, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(uint64(base), 13))
	table := db.name + "." + eoTable
	sum := func(tx *sql.Tx, id int64) (string, error) {
		var s sql.NullString
		err := tx.QueryRow("SELECT SHA2(body, 256) FROM "+table+" WHERE id = ?", id).Scan(&s)
		if err == sql.ErrNoRows {
			return "", nil
		}
		return s.String, err
	}
	body := func() []byte {
		n := 20_000 + rng.IntN(180_000)
		switch r := rng.IntN(40); {
		case r == 0:
			n = 3 << 20
		case r < 8:
			n = 1000
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var live []int64
	next := base
	for txns := 0; ctx.Err() == nil; txns++ {
		tx, err := c.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		n := 1 + rng.IntN(2)
		exp := make([]blobExpect, n)
		dels := map[int]bool{}
		kept := append([]int64(nil), live...)
		for i := range n {
			var q string
			var args []any
			var id int64
			switch op := rng.IntN(10); {
			case op < 5 || len(kept) == 0:
				next++
				id = next
				q, args = "INSERT INTO "+table+" VALUES (?, ?, ?)", []any{id, rng.Int64N(1000), body()}
				kept = append(kept, id)
			case op < 8:
				id = kept[rng.IntN(len(kept))]
				q, args = "UPDATE "+table+" SET v = v + 1, body = ? WHERE id = ?", []any{body(), id}
			default:
				j := rng.IntN(len(kept))
				id = kept[j]
				kept = append(kept[:j], kept[j+1:]...)
				q, args = "DELETE FROM "+table+" WHERE id = ?", []any{id}
				dels[i+1] = true
			}
			before, err := sum(tx, id)
			if err == nil {
				_, err = tx.Exec(q, args...)
			}
			var after string
			if err == nil {
				after, err = sum(tx, id)
			}
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", q, err)
			}
			exp[i] = blobExpect{before, after}
		}
		gtid, err := commitGTID(tx, c)
		if err != nil {
			return err
		}
		live = kept
		mu.Lock()
		for i, x := range exp {
			want[shard+"/"+gtid+"/"+strconv.Itoa(i+1)] = x
		}
		mu.Unlock()
		l.committed(shard, gtid, n, dels)
		time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
	}
	return nil
}

// SIGKILL at random moments while two shards stream rows with large
// LONGBLOB bodies through the claim-check (GCS emulator, threshold 16 KiB):
// every row change is read committed exactly once; the Go decoder's body of
// every before and after image has the SHA-256 MariaDB's SHA2(body, 256)
// gave inside the transaction; and the bucket holds exactly the objects the
// committed records point to, one per offloaded record: a record replayed
// after a kill found its first attempt's object (deterministic names) and
// left no second one.
func TestKillDuringOffload(t *testing.T) {
	e := newE2E(t, stackEnv(t))
	dbs := e.createShardDBs(t, 0, 1)
	for _, db := range dbs {
		exec(t, db.DB, "CREATE TABLE "+db.name+"."+eoTable+" (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, body LONGBLOB)")
	}
	client, bucket := newBucket(t)
	cfg := writeConfig(t, e.config([]int{0, 1}, largeRecordsConfig(t, bucket)+"  threshold: 16KiB\n"))
	k := newKiller(t, cfg, 2)
	l := newLedger()
	var mu sync.Mutex
	want := map[string]blobExpect{}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, len(dbs))
	for i, db := range dbs {
		go func() {
			errs <- writeBlobs(ctx, db, fmt.Sprintf("shard%d", i+1), int64(i+1)*1_000_000_000, l, &mu, want)
		}()
	}
	kills := killsPerScenario()
	prev := 0
	for i := range kills {
		// Each kill lands while records are being offloaded: after the
		// process has stored objects of its own, at a random moment.
		eventually(t, 2*time.Minute, "objects offloaded since the last kill", func() error {
			if c := len(bucketNames(t, client, bucket)); c <= prev {
				return fmt.Errorf("%d objects", c)
			}
			return nil
		})
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		objects := len(bucketNames(t, client, bucket))
		prev = objects
		k.kill()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		k.start()
		t.Logf("kill %d of %d survived (%d objects in the bucket at the kill, %d transactions so far)", i+1, kills, objects, l.txns)
	}
	time.Sleep(time.Second)
	cancel()
	for range dbs {
		if err := <-errs; err != nil {
			t.Fatalf("workload: %v", err)
		}
	}
	n := waitExactlyOnce(t, e, l)

	topic := e.topic(eoTable)
	dec := e.decoder(t)
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	referenced := map[string]int{}
	offloaded, inline, images := 0, 0, 0
	body := func(img map[string]any) string {
		if img == nil {
			return ""
		}
		b, _ := img["body"].([]byte)
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	for _, r := range e.readTopic(t, topic) {
		id := string(r.Headers[serde.HeaderEventID])
		if r.Value == nil || strings.Contains(id, "/snapshot-") {
			continue
		}
		rec, err := dec.DecodeRecord(context.Background(), r.serde(topic))
		if err != nil {
			t.Fatalf("decode %s: %v", id, err)
		}
		x, ok := want[strings.TrimSuffix(id, "/0")]
		if !ok {
			add("no expectation for %s", id)
			continue
		}
		if got := body(rec.Before); got != x.before {
			add("%s: before image's body SHA-256 %s, MariaDB's %s", id, got, x.before)
		}
		if got := body(rec.After); got != x.after {
			add("%s: after image's body SHA-256 %s, MariaDB's %s", id, got, x.after)
		}
		images++
		if rec.ClaimCheck == serde.ClaimOffloaded {
			offloaded++
			uri := string(r.Headers[serde.HeaderClaimCheckObject])
			name, ok := strings.CutPrefix(uri, "gs://"+bucket+"/")
			if !ok {
				add("%s: object %q not in gs://%s", id, uri, bucket)
			}
			referenced[name]++
		} else {
			inline++
		}
	}
	objects := bucketNames(t, client, bucket)
	for name, c := range referenced {
		if c > 1 {
			add("object %s referenced by %d records", name, c)
		}
		if !objects[name] {
			add("object %s referenced, not in the bucket", name)
		}
	}
	for name := range objects {
		if referenced[name] == 0 {
			add("object %s in the bucket, referenced by no committed record (a replay's duplicate?)", name)
		}
	}
	if offloaded == 0 || inline == 0 {
		add("%d records offloaded and %d not: the workload missed a form", offloaded, inline)
	}
	if err := problemsError(problems); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills, %d transactions, %d record ids exactly once, %d records' bodies equal MariaDB's SHA2 (%d offloaded, %d inline); %d objects, one per offloaded record",
		kills, l.txns, n, images, offloaded, inline, len(objects))
	t.Logf("verify: %s", verifyAgrees(t, cfg))
}
