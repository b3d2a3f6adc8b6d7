package integration

// Failover (issue 11): the stack's replicaN is a MariaDB GTID replica of
// shardN (stack/stack replica N: log_slave_updates, gtid_strict_mode, its
// own server_id, the shard's gtid_domain_id). Tidemark pointed at the
// replica from the start, moved to it by a configuration change and a
// restart, or by its hosts list when the primary stops, must count every
// (shard, GTID, row) of MariaDB's ledger exactly once, and the topic's
// final state must equal the table. The ledger workload and its checker
// are exactly_once_test.go's.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/daemon"
)

// stackReplica is the stack's replica of one shard, started (provisioned on
// first use) and caught up with its primary by stack/stack replica N.
type stackReplica struct {
	addr string
	db   *sql.DB // admin
}

func startReplica(t *testing.T, s *Stack, shard int) *stackReplica {
	t.Helper()
	addrs := splitList(os.Getenv("TIDEMARK_MYSQL_REPLICAS"))
	if len(addrs) <= shard {
		unavailable(t, "TIDEMARK_MYSQL_REPLICAS not set; run: eval \"$(stack/stack env)\"")
	}
	stackCommand(t, "replica", strconv.Itoa(shard+1))
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@%s/", s.AdminUser, s.AdminPassword, addrs[shard]))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	return &stackReplica{addr: addrs[shard], db: db}
}

// catchUp waits until the replica has applied everything the primary has
// logged so far (MASTER_GTID_WAIT).
func (r *stackReplica) catchUp(t *testing.T, primary *sql.DB) {
	t.Helper()
	var pos string
	if err := primary.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	var res sql.NullInt64
	if err := r.db.QueryRow("SELECT MASTER_GTID_WAIT(?, 120)", pos).Scan(&res); err != nil || res.Int64 != 0 {
		t.Fatalf("replica %s has not reached the primary's %s within 120s (MASTER_GTID_WAIT: %v %v)", r.addr, pos, res, err)
	}
}

func (r *stackReplica) serverID(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := r.db.QueryRow("SELECT @@GLOBAL.server_id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// withHosts points a shard of a configuration from e.config at other
// servers: one (host, port) or a hosts list.
func withHosts(t *testing.T, cfg, shardAddr string, hosts ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(shardAddr, ":")
	old := "    host: " + host + "\n    port: " + port + "\n"
	var repl string
	if len(hosts) == 1 {
		h, p, _ := strings.Cut(hosts[0], ":")
		repl = "    host: " + h + "\n    port: " + p + "\n"
	} else {
		repl = "    hosts: [" + strings.Join(hosts, ", ") + "]\n"
	}
	if !strings.Contains(cfg, old) {
		t.Fatalf("no %q in the configuration", old)
	}
	return strings.Replace(cfg, old, repl, 1)
}

// ledgerRecord is a ledger topic's record as the checks read it.
type ledgerRecord struct {
	id, v              int64
	partition          int32
	offset             int64
	deleted            bool // a delete or its tombstone
	gtid, file, source string
	serverID           int64
	snapshot           bool
}

func decodeLedger(t *testing.T, e *e2eSetup) []ledgerRecord {
	t.Helper()
	dec := e.decoder(t)
	var out []ledgerRecord
	for _, r := range e.readTopic(t, e.topic(eoTable)) {
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatalf("decode partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		lr := ledgerRecord{partition: r.Partition, offset: r.Offset, deleted: rec.Tombstone || rec.Op == "d"}
		lr.id, _ = rec.Key["id"].(int64)
		if !rec.Tombstone {
			if rec.After != nil {
				lr.v, _ = rec.After["v"].(int64)
			}
			lr.gtid, _ = rec.Source["gtid"].(string)
			lr.file, _ = rec.Source["file"].(string)
			lr.source, _ = rec.Source["name"].(string)
			lr.serverID, _ = rec.Source["server_id"].(int64)
			lr.snapshot = rec.Op == "r"
		}
		out = append(out, lr)
	}
	return out
}

// ledgerTable is SELECT id, v of the ledger table.
func ledgerTable(t *testing.T, db *sql.DB, database string) map[int64]int64 {
	t.Helper()
	rows, err := db.Query("SELECT id, v FROM " + database + "." + eoTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitLedgerState waits until the topic's final state (the latest record of
// each key, deletes applied) equals the table, and returns the records.
func waitLedgerState(t *testing.T, e *e2eSetup, db *sql.DB, database string) []ledgerRecord {
	t.Helper()
	want := ledgerTable(t, db, database)
	var recs []ledgerRecord
	eventually(t, 2*time.Minute, "the topic's final state equals "+database+"."+eoTable, func() error {
		recs = decodeLedger(t, e)
		sorted := append([]ledgerRecord(nil), recs...)
		sort.SliceStable(sorted, func(i, j int) bool {
			if sorted[i].partition != sorted[j].partition {
				return sorted[i].partition < sorted[j].partition
			}
			return sorted[i].offset < sorted[j].offset
		})
		got := map[int64]int64{}
		for _, r := range sorted {
			if r.deleted {
				delete(got, r.id)
			} else {
				got[r.id] = r.v
			}
		}
		var problems []string
		for id, v := range want {
			if g, ok := got[id]; !ok || g != v {
				problems = append(problems, fmt.Sprintf("id %d: table v=%d, topic %d (present %t)", id, v, g, ok))
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				problems = append(problems, fmt.Sprintf("id %d (v=%d) in the topic, not in the table", id, g))
			}
		}
		return problemsError(problems)
	})
	return recs
}

// binlogBase is the name of a server's binlog files without the sequence
// number (replica1-bin), from SHOW MASTER STATUS.
func binlogBase(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	if !rows.Next() {
		t.Fatal("SHOW MASTER STATUS: no row")
	}
	if err := rows.Scan(vals...); err != nil {
		t.Fatal(err)
	}
	file := string(*vals[0].(*sql.RawBytes))
	base, _, _ := strings.Cut(file, ".")
	return base
}

// processStatus reads a daemon process's /status for one shard.
func processStatus(p *daemonProcess, shard string) (daemon.ShardStatus, error) {
	addr := adminAddrFromLog(p.output())
	if addr == "" {
		return daemon.ShardStatus{}, errors.New("no admin address in the log yet")
	}
	return adminShardStatus(addr, shard)
}

// adminShardStatus reads one shard's entry of /status from the admin
// address, over HTTP as a user's tooling would.
func adminShardStatus(addr, shard string) (daemon.ShardStatus, error) {
	_, body, err := httpGet("http://" + addr + "/status")
	if err != nil {
		return daemon.ShardStatus{}, err
	}
	var doc struct{ Shards []daemon.ShardStatus }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return daemon.ShardStatus{}, fmt.Errorf("%v: %s", err, body)
	}
	for _, s := range doc.Shards {
		if s.Shard == shard {
			return s, nil
		}
	}
	return daemon.ShardStatus{}, fmt.Errorf("no shard %s in %s", shard, body)
}

// Pointed at the replica from the start, Tidemark streams (and snapshots)
// the primary's changes: every ledger row once, the final state equal to
// the table, and every record carries the primary's server_id and GTIDs
// although it was read from the replica's binlog (log_slave_updates keeps
// them).
func TestFailoverReplicaFromTheStart(t *testing.T) {
	e, dbs := ledgerSetup(t, 0)
	primary := dbs[0]
	r := startReplica(t, e.s, 0)
	r.catchUp(t, primary.DB)
	d := startDaemon(t, withHosts(t, e.config([]int{0}, ""), e.s.Shards[0], r.addr))
	d.waitStreaming(t)
	if st := d.status(t, "shard1"); st.Host != r.addr {
		t.Fatalf("status host %q, want the replica %s", st.Host, r.addr)
	}
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	time.Sleep(3 * time.Second)
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	n := waitExactlyOnce(t, e, l)
	r.catchUp(t, primary.DB)
	recs := waitLedgerState(t, e, primary.DB, primary.name)
	t.Logf("verify: %s", verifyAgrees(t, withHosts(t, e.config([]int{0}, ""), e.s.Shards[0], r.addr)))

	var primaryID int64
	if err := primary.QueryRow("SELECT @@GLOBAL.server_id").Scan(&primaryID); err != nil {
		t.Fatal(err)
	}
	replicaBinlog := binlogBase(t, r.db)
	checked := 0
	for _, rec := range recs {
		if rec.snapshot || rec.gtid == "" {
			continue
		}
		checked++
		parts := strings.Split(rec.gtid, "-")
		if rec.serverID != primaryID || len(parts) != 3 || parts[1] != strconv.FormatInt(primaryID, 10) || parts[0] != "1" {
			t.Fatalf("record of id %d: server_id %d, gtid %s; want the primary's server_id %d and GTID domain 1", rec.id, rec.serverID, rec.gtid, primaryID)
		}
		if !strings.HasPrefix(rec.file, replicaBinlog+".") {
			t.Fatalf("record of id %d read from binlog file %q, want the replica's %s.*", rec.id, rec.file, replicaBinlog)
		}
	}
	if checked == 0 {
		t.Fatal("no streamed record to check")
	}
	t.Logf("%d transactions, %d record ids each seen exactly once; %d records read from %s with the primary's server_id %d",
		l.txns, n, checked, replicaBinlog, primaryID)
}

// Moved from the primary to its replica by a configuration change and a
// restart (kill -9 mid-stream, while the replica is behind): the new
// process waits for the replica (host_behind) instead of skipping, then
// resumes from the primary's GTID position without loss or repetition.
func TestFailoverConfigChangeToReplica(t *testing.T) {
	e, dbs := ledgerSetup(t, 0)
	primary := dbs[0]
	r := startReplica(t, e.s, 0)
	r.catchUp(t, primary.DB)
	t.Cleanup(func() { _, _ = r.db.Exec("START SLAVE") })
	cfg := e.config([]int{0}, "")
	onPrimary := writeConfig(t, cfg)
	onReplica := writeConfig(t, withHosts(t, cfg, e.s.Shards[0], r.addr))

	p1 := startProcess(t, onPrimary)
	waitProcessStreaming(t, p1, 1)
	procs := []*daemonProcess{p1}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("process %d log:\n%s", i+1, p.output())
			}
		}
	})
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	time.Sleep(1500 * time.Millisecond)
	exec(t, r.db, "STOP SLAVE") // the replica falls behind what Tidemark reads from the primary
	time.Sleep(1500 * time.Millisecond)
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done

	p2 := startProcess(t, onReplica)
	procs = append(procs, p2)
	var behind daemon.ShardStatus
	eventually(t, time.Minute, "the restarted shard waiting for the replica", func() error {
		st, err := processStatus(p2, "shard1")
		if err != nil {
			return err
		}
		if st.LastErrorClass != "host_behind" || st.State == daemon.StateStreaming || st.State == daemon.StateFailed {
			return fmt.Errorf("state %s, class %q: %s", st.State, st.LastErrorClass, st.LastError)
		}
		behind = st
		return nil
	})
	if behind.Host != r.addr || !strings.Contains(behind.LastError, "has not yet logged") || behind.Retry != "transient" {
		t.Errorf("waiting status: host %s, retry %q, error %q", behind.Host, behind.Retry, behind.LastError)
	}
	time.Sleep(time.Second) // writes go on while it waits
	exec(t, r.db, "START SLAVE")
	waitProcessStreaming(t, p2, 1)
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	n := waitExactlyOnce(t, e, l)
	r.catchUp(t, primary.DB)
	waitLedgerState(t, e, r.db, primary.name)
	st, err := processStatus(p2, "shard1")
	if err != nil || st.Host != r.addr || st.State != daemon.StateStreaming {
		t.Errorf("final status %+v (%v), want streaming from %s", st, err, r.addr)
	}
	t.Logf("verify: %s", verifyAgrees(t, onReplica))
	t.Logf("%d transactions, %d record ids each seen exactly once; the restart waited for the replica: %s", l.txns, n, behind.LastError)
}

// The hosts list: when the primary stops mid-stream (stack/stack stop
// shard1, with a Kafka transaction open), the shard moves to the replica
// and resumes from its GTID position; the replica, promoted, takes the
// writes, which arrive too. Every ledger row once, on both servers' GTIDs.
func TestFailoverHostsListPrimaryStopped(t *testing.T) {
	e, dbs := ledgerSetup(t, 0)
	primary := dbs[0]
	r := startReplica(t, e.s, 0)
	r.catchUp(t, primary.DB)
	cfg := withHosts(t, e.config([]int{0}, ""), e.s.Shards[0], e.s.Shards[0], r.addr)
	// Commits every 500ms: the primary stops inside an open transaction.
	cfg = strings.Replace(cfg, "  linger: 2ms\n", "  linger: 2ms\n  transactions:\n    interval: 500ms\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	if st := d.status(t, "shard1"); st.Host != e.s.Shards[0] {
		t.Fatalf("status host %q, want the primary %s first", st.Host, e.s.Shards[0])
	}
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	time.Sleep(2 * time.Second)
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	// A planned switch: the replica has every committed transaction
	// (MariaDB's shutdown does not wait for replicas to receive the last
	// ones), Tidemark has not committed all of them to Kafka yet.
	r.catchUp(t, primary.DB)
	t.Cleanup(func() {
		// The stack as it was: shard1 up, a replica that is not promoted
		// (the daemon stopped first: it would go on failing over).
		d.stop()
		stackCommand(t, "up")
		stackCommand(t, "replica", "1", "rebuild")
	})
	stackCommand(t, "stop", "shard1")
	eventually(t, 2*time.Minute, "shard1 streaming from the replica", func() error {
		st := d.status(t, "shard1")
		if st.Host != r.addr || st.State != daemon.StateStreaming || st.Failovers < 1 {
			return fmt.Errorf("host %s, state %s, failovers %d, last error %s", st.Host, st.State, st.Failovers, st.LastError)
		}
		return nil
	})
	if log := d.log.String(); !strings.Contains(log, "next_host="+r.addr) {
		t.Errorf("no WARN naming the move to %s in the log", r.addr)
	}
	st := d.status(t, "shard1")
	_, metrics, err := httpGet("http://" + d.d.AdminAddr() + "/metrics")
	if want := fmt.Sprintf(`tidemark_shard_failovers_total{shard="shard1"} %d`, st.Failovers); err != nil || !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s (%v)", want, err)
	}

	// Promote the replica and write there: same domain, its own server_id.
	exec(t, r.db, "STOP SLAVE", "SET GLOBAL read_only = 0")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		werr = writeTransactions(ctx, &sqlDB{DB: r.db, name: primary.name}, "shard1", 1_500_000_000, l)
	}()
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	if werr != nil {
		t.Fatalf("workload on the promoted replica: %v", werr)
	}
	n := waitExactlyOnce(t, e, l)
	recs := waitLedgerState(t, e, r.db, primary.name)
	replicaID := r.serverID(t)
	bySource := map[int64]int{}
	for _, rec := range recs {
		if rec.gtid == "" {
			continue
		}
		if !strings.HasPrefix(rec.gtid, "1-"+strconv.FormatInt(rec.serverID, 10)+"-") {
			t.Fatalf("record of id %d: server_id %d but gtid %s", rec.id, rec.serverID, rec.gtid)
		}
		bySource[rec.serverID]++
	}
	if len(bySource) != 2 || bySource[replicaID] == 0 {
		t.Errorf("records by source server_id %v, want the primary's and the promoted replica's (%d)", bySource, replicaID)
	}
	t.Logf("%d transactions, %d record ids each seen exactly once; records by server_id %v", l.txns, n, bySource)
}

// The binlog reader itself, pointed at a replica that has not yet logged
// the position (MariaDB refuses it with error 1236): it waits, reconnecting
// in place with ErrHostBehind, and once replication resumes it streams
// exactly the rows after the position.
func TestFailoverReaderWaitsForReplica(t *testing.T) {
	s := stackEnv(t)
	db, name := s.createDatabase(t, 0, "failover_reader")
	exec(t, db, "CREATE TABLE "+name+".t (id INT PRIMARY KEY)")
	r := startReplica(t, s, 0)
	r.catchUp(t, db)
	exec(t, r.db, "STOP SLAVE")
	t.Cleanup(func() { _, _ = r.db.Exec("START SLAVE") })
	exec(t, db, "INSERT INTO "+name+".t VALUES (1), (2)")
	var from string
	if err := db.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&from); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "INSERT INTO "+name+".t VALUES (3)", "INSERT INTO "+name+".t VALUES (4)")

	cfg := readerConfig(s, 0, name)
	cfg.Addr = r.addr
	var mu sync.Mutex
	var waits []error
	cfg.OnReconnect = func(err error, _ time.Duration) {
		mu.Lock()
		waits = append(waits, err)
		mu.Unlock()
	}
	rr := startReader(t, cfg, change.Position{Flavor: change.FlavorMariaDB, GTIDSet: from}, nil)
	eventually(t, time.Minute, "the reader waiting for the replica", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(waits) == 0 {
			return errors.New("no reconnect yet")
		}
		if !errors.Is(waits[0], binlog.ErrHostBehind) {
			t.Fatalf("reconnect for %v, want ErrHostBehind", waits[0])
		}
		return nil
	})
	if got := rr.sink.rowsOf(name, "t"); len(got) != 0 {
		t.Fatalf("%d rows read from a replica behind the position", len(got))
	}
	exec(t, r.db, "START SLAVE")
	rows := waitRows(t, rr, name, "t", 2)
	time.Sleep(500 * time.Millisecond) // anything more would show now
	rows = rr.sink.rowsOf(name, "t")
	var ids []string
	for _, ev := range rows {
		ids = append(ids, fmt.Sprint(ev.After[0]))
	}
	if strings.Join(ids, ",") != "3,4" {
		t.Fatalf("rows after the position %s: ids %v, want 3,4", from, ids)
	}
	mu.Lock()
	t.Logf("waited through %d reconnects (%v), then read ids %v from the replica", len(waits), waits[0], ids)
	mu.Unlock()
}
