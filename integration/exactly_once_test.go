package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/serde"
)

// Exactly-once delivery (kafka.delivery: exactly_once, the default), proven
// against MariaDB's own ledger: every transaction the workload commits is
// noted with the GTID MariaDB gave it (@@last_gtid) and its row count, and a
// read_committed consumer must then find the tidemark.id of every one of
// those rows exactly once, and nothing else.

// gtidLedger is what the workload committed: GTID → rows changed, and
// which of them were deletes (those have a tombstone too).
type gtidLedger struct {
	mu      sync.Mutex
	rows    map[string]int          // shard/GTID → rows
	deletes map[string]map[int]bool // shard/GTID → rows that were deletes
	txns    int
}

func newLedger() *gtidLedger {
	return &gtidLedger{rows: map[string]int{}, deletes: map[string]map[int]bool{}}
}

// committed records a transaction MariaDB committed: its GTID, its row
// count and which of its rows (1-based) were deletes.
func (l *gtidLedger) committed(shard, gtid string, rows int, deletes map[int]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows[shard+"/"+gtid] = rows
	l.deletes[shard+"/"+gtid] = deletes
	l.txns++
}

// commitGTID commits tx, opened on c, and returns the GTID MariaDB gave
// it (@@last_gtid of the session).
func commitGTID(tx *sql.Tx, c *sql.Conn) (string, error) {
	if err := tx.Commit(); err != nil {
		return "", err
	}
	var gtid string
	err := c.QueryRowContext(context.Background(), "SELECT @@last_gtid").Scan(&gtid)
	return gtid, err
}

// eoTable is the tests' table: id BIGINT PRIMARY KEY, v BIGINT.
const eoTable = "ledger"

// writeTransactions commits transactions of 1-8 row changes on db (inserts
// of fresh ids, updates and deletes of existing ones, each changing exactly
// one row) until ctx is done, noting each in l.
func writeTransactions(ctx context.Context, db *sqlDB, shard string, base int64, l *gtidLedger) error {
	c, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(uint64(base), 7))
	var live []int64
	next := base
	for ctx.Err() == nil {
		tx, err := c.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		n := 1 + rng.IntN(8)
		dels := map[int]bool{}
		kept := append([]int64(nil), live...)
		for i := 1; i <= n; i++ {
			var q string
			var args []any
			switch op := rng.IntN(10); {
			case op < 5 || len(kept) == 0:
				next++
				q, args = "INSERT INTO "+db.name+"."+eoTable+" (id, v) VALUES (?, ?)", []any{next, rng.Int64N(1000)}
				kept = append(kept, next)
			case op < 8:
				q, args = "UPDATE "+db.name+"."+eoTable+" SET v = v + 1 WHERE id = ?", []any{kept[rng.IntN(len(kept))]}
			default:
				j := rng.IntN(len(kept))
				q, args = "DELETE FROM "+db.name+"."+eoTable+" WHERE id = ?", []any{kept[j]}
				kept = append(kept[:j], kept[j+1:]...)
				dels[i] = true
			}
			res, err := tx.Exec(q, args...)
			if err != nil {
				tx.Rollback()
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				tx.Rollback()
				return fmt.Errorf("%s %v changed %d rows, want 1", q, args, k)
			}
		}
		gtid, err := commitGTID(tx, c)
		if err != nil {
			return err
		}
		live = kept
		l.committed(shard, gtid, n, dels)
		time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
	}
	return nil
}

// checkExactlyOnce compares the topic's ids with the ledger: every row of
// every committed transaction once (and its tombstone once for a delete),
// no id twice, nothing the ledger does not have. It returns a description
// of the first differences (empty: none) and the number of ids checked.
func checkExactlyOnce(recs []kafkaRecord, l *gtidLedger) (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]int{}
	for _, r := range recs {
		id := string(r.Headers[serde.HeaderEventID])
		if id == "" {
			return fmt.Sprintf("a record without %s at partition %d offset %d", serde.HeaderEventID, r.Partition, r.Offset), 0
		}
		if strings.Contains(id, "/snapshot-") {
			continue // the start's snapshot of the (then empty) table
		}
		seen[id]++
	}
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	want := 0
	for tx, n := range l.rows {
		for row := 1; row <= n; row++ {
			parts := 1
			if l.deletes[tx][row] {
				parts = 2
			}
			for part := range parts {
				id := tx + "/" + strconv.Itoa(row) + "/" + strconv.Itoa(part)
				want++
				switch c := seen[id]; c {
				case 1:
				case 0:
					add("missing %s", id)
				default:
					add("%s %d times", id, c)
				}
				delete(seen, id)
			}
		}
	}
	for id, c := range seen {
		add("unexpected %s (%d times)", id, c)
	}
	return strings.Join(problems, "; "), want
}

// ledgerSetup creates the ledger table on the given shards.
func ledgerSetup(t *testing.T, shards ...int) (*e2eSetup, map[int]*sqlDB) {
	t.Helper()
	e := newE2E(t, stackEnv(t))
	dbs := e.createShardDBs(t, shards...)
	for _, db := range dbs {
		exec(t, db.DB, "CREATE TABLE "+db.name+"."+eoTable+" (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
	}
	return e, dbs
}

// startLedgerWrites runs writeTransactions on every shard until the
// returned stop is called, which returns the writers' error.
func startLedgerWrites(t *testing.T, dbs map[int]*sqlDB, l *gtidLedger) (stop func() error) {
	return startLedgerWritesFrom(dbs, l, 0)
}

// startLedgerWritesFrom is startLedgerWrites with the ids of shard i+1
// starting after (i+1)·10⁹+base, so that a second workload on the same
// tables never reuses a key.
func startLedgerWritesFrom(dbs map[int]*sqlDB, l *gtidLedger, base int64) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, len(dbs))
	for i, db := range dbs {
		go func() {
			errs <- writeTransactions(ctx, db, fmt.Sprintf("shard%d", i+1), int64(i+1)*1_000_000_000+base, l)
		}()
	}
	return func() error {
		cancel()
		var first error
		for range dbs {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

// waitExactlyOnce reads the topic until it matches the ledger.
func waitExactlyOnce(t *testing.T, e *e2eSetup, l *gtidLedger) int {
	t.Helper()
	var n int
	eventually(t, 2*time.Minute, "every committed row exactly once in "+e.topic(eoTable), func() error {
		problems, want := checkExactlyOnce(e.readTopic(t, e.topic(eoTable)), l)
		n = want
		if problems != "" {
			return fmt.Errorf("%s", problems)
		}
		return nil
	})
	return n
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// SIGKILL of the daemon at random moments while two shards stream
// transactions, TIDEMARK_EO_KILLS times (5 in make test; make soak runs
// more): a read_committed consumer then sees every committed row exactly
// once: no loss, no duplicate.
func TestExactlyOnceAcrossKills(t *testing.T) {
	e, dbs := ledgerSetup(t, 0, 1)
	cfg := writeConfig(t, e.config([]int{0, 1}, ""))
	p := startProcess(t, cfg)
	waitProcessStreaming(t, p, 2)
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	kills := envInt("TIDEMARK_EO_KILLS", 5)
	procs := []*daemonProcess{p}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("process %d log:\n%s", i+1, p.output())
			}
		}
	})
	for i := range kills {
		time.Sleep(time.Duration(200+rand.IntN(1500)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond) // writes go on while it is down
		p = startProcess(t, cfg)
		procs = append(procs, p)
		waitProcessStreaming(t, p, 2)
		t.Logf("kill %d of %d survived (%d transactions so far)", i+1, kills, l.txns)
	}
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	n := waitExactlyOnce(t, e, l)
	t.Logf("%d kills, %d transactions, %d record ids each seen exactly once", kills, l.txns, n)
	t.Logf("verify: %s", verifyAgrees(t, cfg))
}

// Two daemons configured with the same shard: the second fences the first
// (same transactional id), which parks the shard with the fenced error and
// writes nothing more; the second resumes where the last commit left off,
// and every row arrives exactly once.
func TestExactlyOnceTwoDaemonsOneWriter(t *testing.T) {
	e, dbs := ledgerSetup(t, 0)
	// Two configurations of the same shard, each with its own server_id
	// (e.config draws one): only the transactional id, the same for both,
	// keeps them apart. (With one server_id MariaDB also refuses the second
	// binlog connection, and the reader's server_id_conflict check parks a
	// shard.)
	first := startDaemon(t, e.config([]int{0}, ""))
	first.waitStreaming(t)
	l := newLedger()
	stop := startLedgerWrites(t, dbs, l)
	time.Sleep(time.Second)
	second := startDaemon(t, e.config([]int{0}, ""))
	eventually(t, time.Minute, "the first daemon's shard fenced", func() error {
		st := first.status(t, "shard1")
		if st.State != daemon.StateFailed || st.LastErrorClass != "fenced" {
			return fmt.Errorf("first daemon's shard: %s %s %s", st.State, st.LastErrorClass, st.LastError)
		}
		return nil
	})
	st := first.status(t, "shard1")
	if !strings.Contains(st.LastError, "another Tidemark process") || st.Action == "" {
		t.Errorf("the fenced shard's error does not say what happened: %q (action %q)", st.LastError, st.Action)
	}
	second.waitStreaming(t)
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	n := waitExactlyOnce(t, e, l)
	if st := first.status(t, "shard1"); st.State != daemon.StateFailed {
		t.Errorf("the fenced daemon's shard came back: %+v", st)
	}
	t.Logf("%d transactions, %d record ids each seen exactly once; the first daemon: %s", l.txns, n, st.LastError)
}
