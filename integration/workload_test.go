package integration

// A concurrent workload for end-to-end tests, and the validators that judge
// what reached Kafka against what the shards hold: the final compacted
// state, per-key order, nothing missing, key→partition affinity.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/serde"
)

// accountsDDL is the workload's table. version counts the row's updates, so
// the stream of one key can be checked for order and gaps.
const accountsDDL = `CREATE TABLE %s.accounts (
	id BIGINT PRIMARY KEY,
	email VARCHAR(128) NOT NULL,
	version INT NOT NULL,
	balance DECIMAL(12,2) NOT NULL,
	note TEXT,
	updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) DEFAULT CHARSET=utf8mb4`

// workload writes inserts, updates, deletes and key changes to one shard's
// accounts table, in single- and multi-row transactions. Ids are
// (shard+1)*1e9 + n, so shards never share a key.
type workload struct {
	db    *sql.DB
	table string
	base  int64
	rng   *rand.Rand

	mu   sync.Mutex
	live []int64 // ids currently present
	next int64
	ops  int
}

func newWorkload(db *sql.DB, database string, shard int) *workload {
	return &workload{db: db, table: database + ".accounts", base: int64(shard+1) * 1_000_000_000,
		rng: rand.New(rand.NewPCG(uint64(shard), 42))}
}

// run writes transactions until ctx is done or n transactions were written
// (n <= 0: no limit). It reports the first SQL error.
func (w *workload) run(ctx context.Context, n int) error {
	for i := 0; n <= 0 || i < n; i++ {
		if ctx.Err() != nil {
			return nil
		}
		if err := w.tx(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func (w *workload) tx(ctx context.Context) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	w.mu.Lock()
	defer w.mu.Unlock()
	stmts := 1
	if w.rng.IntN(4) == 0 {
		stmts = 2 + w.rng.IntN(8) // a multi-row transaction
	}
	live := append([]int64(nil), w.live...)
	next := w.next
	for s := 0; s < stmts; s++ {
		r := w.rng.IntN(100)
		switch {
		case len(live) < 20 || r < 40: // insert
			id := w.base + next
			next++
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(
				"INSERT INTO %s (id, email, version, balance, note) VALUES (?, ?, 1, ?, ?)", w.table),
				id, fmt.Sprintf("user%d@example.com", id), fmt.Sprintf("%d.%02d", w.rng.IntN(100000), w.rng.IntN(100)),
				strings.Repeat("é", w.rng.IntN(40))); err != nil {
				return err
			}
			live = append(live, id)
		case r < 85: // update
			id := live[w.rng.IntN(len(live))]
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(
				"UPDATE %s SET version = version + 1, balance = balance + 1.25, updated_at = NOW(6) WHERE id = ?", w.table), id); err != nil {
				return err
			}
		case r < 95: // delete
			i := w.rng.IntN(len(live))
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE id = ?", w.table), live[i]); err != nil {
				return err
			}
			live = append(live[:i], live[i+1:]...)
		default: // primary-key change: delete + tombstone + create downstream
			i := w.rng.IntN(len(live))
			id := w.base + next
			next++
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(
				"UPDATE %s SET id = ?, version = version + 1 WHERE id = ?", w.table), id, live[i]); err != nil {
				return err
			}
			live[i] = id
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.live, w.next = live, next
	w.ops += stmts
	return nil
}

// newAccountsE2E is a test's corner of the stack with the accounts table in
// its logical database on the given shards.
func newAccountsE2E(t *testing.T, s *Stack, shards ...int) (*e2eSetup, map[int]*sqlDB) {
	t.Helper()
	e := newE2E(t, s)
	dbs := e.createShardDBs(t, shards...)
	for _, db := range dbs {
		exec(t, db.DB, fmt.Sprintf(accountsDDL, db.name))
	}
	return e, dbs
}

// runWorkloads writes n transactions (n <= 0: until ctx is done) to every
// shard's accounts at once; Wait reports the first SQL error.
func runWorkloads(ctx context.Context, dbs map[int]*sqlDB, n int) *errgroup.Group {
	var g errgroup.Group
	for i, db := range dbs {
		w := newWorkload(db.DB, db.name, i)
		g.Go(func() error { return w.run(ctx, n) })
	}
	return &g
}

// accountRow is one row of accounts as the validators compare it.
type accountRow struct {
	Email   string
	Version int32
	Balance string
}

// selectAccounts reads the table's rows by id.
func selectAccounts(t *testing.T, db *sql.DB, database string) map[int64]accountRow {
	t.Helper()
	rows, err := db.Query("SELECT id, email, version, balance FROM " + database + ".accounts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]accountRow{}
	for rows.Next() {
		var id int64
		var r accountRow
		if err := rows.Scan(&id, &r.Email, &r.Version, &r.Balance); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// decodedAccount is one decoded record of the accounts topic.
type decodedAccount struct {
	id        int64
	partition int32
	offset    int64
	key       []byte
	tombstone bool
	op        string
	after     *accountRow // nil for deletes and tombstones
	version   int32       // of after, or of before for deletes
	shard     string      // source.name
}

func decodeAccounts(t *testing.T, dec *serde.Decoder, recs []kafkaRecord) []decodedAccount {
	t.Helper()
	out := make([]decodedAccount, 0, len(recs))
	for _, r := range recs {
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatalf("decode partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		d := decodedAccount{partition: r.Partition, offset: r.Offset, key: r.Key, tombstone: rec.Tombstone, op: rec.Op}
		id, ok := rec.Key["id"].(int64)
		if !ok {
			t.Fatalf("key %v: no int64 id", rec.Key)
		}
		d.id = id
		if !rec.Tombstone {
			d.shard, _ = rec.Source["name"].(string)
			img := rec.After
			if rec.Op == "d" {
				img = rec.Before
			}
			row := accountRow{Email: img["email"].(string), Version: img["version"].(int32), Balance: img["balance"].(serde.Decimal).String()}
			d.version = row.Version
			if rec.Op != "d" {
				d.after = &row
			}
		}
		out = append(out, d)
	}
	return out
}

// checkFinalState compares the topic's compacted view (latest record per key,
// tombstones applied) with the union of the shards' tables.
func checkFinalState(recs []decodedAccount, want map[int64]accountRow) error {
	got := map[int64]accountRow{}
	// Records of one key are in one partition; order across partitions does
	// not matter for the final state of disjoint keys.
	sorted := append([]decodedAccount(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].partition != sorted[j].partition {
			return sorted[i].partition < sorted[j].partition
		}
		return sorted[i].offset < sorted[j].offset
	})
	for _, r := range sorted {
		if r.tombstone || r.op == "d" {
			delete(got, r.id)
		} else {
			got[r.id] = *r.after
		}
	}
	var problems []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("id %d missing from Kafka (want %+v)", id, w))
		case g != w:
			problems = append(problems, fmt.Sprintf("id %d: Kafka %+v, shard %+v", id, g, w))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			problems = append(problems, fmt.Sprintf("id %d in Kafka (%+v) but deleted on its shard", id, g))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		return fmt.Errorf("final state differs (%d keys in Kafka, %d on shards):\n%s", len(got), len(want), strings.Join(problems, "\n"))
	}
	return nil
}

// checkOrderAndAffinity checks, per key: one partition, the one Kafka's
// default partitioner picks; a delete is followed by its tombstone; and
// versions never go backwards. With allowReplay, a restart may repeat a
// suffix of a key's history (at-least-once), but every version between the
// first and the last must still be present: nothing skipped.
func checkOrderAndAffinity(recs []decodedAccount, partitions int32, allowReplay bool) error {
	byKey := map[int64][]decodedAccount{}
	for _, r := range recs {
		byKey[r.id] = append(byKey[r.id], r)
	}
	var problems []string
	for id, rs := range byKey {
		sort.Slice(rs, func(i, j int) bool { return rs[i].offset < rs[j].offset })
		p := rs[0].partition
		if want := router.PartitionFor(rs[0].key, partitions); p != want {
			problems = append(problems, fmt.Sprintf("id %d in partition %d, murmur2 says %d", id, p, want))
		}
		seen := map[int32]bool{}
		var last int32
		for i, r := range rs {
			if r.partition != p {
				problems = append(problems, fmt.Sprintf("id %d in partitions %d and %d", id, p, r.partition))
				break
			}
			if r.op == "d" && (i+1 >= len(rs) || !rs[i+1].tombstone) {
				problems = append(problems, fmt.Sprintf("id %d: delete at offset %d not followed by a tombstone", id, r.offset))
			}
			if r.tombstone {
				continue
			}
			if r.op == "d" {
				continue // same version as the last image
			}
			if r.version < last && !(allowReplay && seen[r.version]) {
				problems = append(problems, fmt.Sprintf("id %d: version %d after %d at offset %d", id, r.version, last, r.offset))
			}
			if r.version == last && !allowReplay && i > 0 {
				problems = append(problems, fmt.Sprintf("id %d: version %d repeated at offset %d", id, r.version, r.offset))
			}
			seen[r.version] = true
			if r.version > last {
				last = r.version
			}
		}
		// Nothing skipped: every version from the key's first to its last.
		first := int32(-1)
		for v := range seen {
			if first < 0 || v < first {
				first = v
			}
		}
		for v := first; first >= 0 && v <= last; v++ {
			if !seen[v] {
				problems = append(problems, fmt.Sprintf("id %d: version %d missing (have %d..%d)", id, v, first, last))
				break
			}
		}
	}
	return problemsError(problems)
}

// unionAccounts reads accounts from every shard of the test.
func (e *e2eSetup) unionAccounts(t *testing.T, dbs map[int]*sqlDB) map[int64]accountRow {
	t.Helper()
	all := map[int64]accountRow{}
	for _, db := range dbs {
		for id, r := range selectAccounts(t, db.DB, db.name) {
			all[id] = r
		}
	}
	return all
}

// waitFinalState polls until the topic's final state equals the shards'.
func (e *e2eSetup) waitFinalState(t *testing.T, dbs map[int]*sqlDB, timeout time.Duration) []decodedAccount {
	t.Helper()
	return e.waitFinalStateOf(t, dbs, timeout, nil)
}

// waitFinalStateOf is waitFinalState for the records keep accepts (all
// when nil): e.g. one shard's part of the topic, by its workload's ids.
func (e *e2eSetup) waitFinalStateOf(t *testing.T, dbs map[int]*sqlDB, timeout time.Duration, keep func(id int64) bool) []decodedAccount {
	t.Helper()
	dec := e.decoder(t)
	want := e.unionAccounts(t, dbs)
	var recs []decodedAccount
	eventually(t, timeout, "topic's final state equals the shards'", func() error {
		if !e.topicExists(t, e.topic("accounts")) {
			return fmt.Errorf("topic %s not created yet", e.topic("accounts"))
		}
		recs = decodeAccounts(t, dec, e.readTopic(t, e.topic("accounts")))
		if keep != nil {
			kept := recs[:0]
			for _, r := range recs {
				if keep(r.id) {
					kept = append(kept, r)
				}
			}
			recs = kept
		}
		return checkFinalState(recs, want)
	})
	return recs
}

// ofShard keeps the ids the workload of shard i writes.
func ofShard(i int) func(int64) bool {
	return func(id int64) bool { return id/1_000_000_000 == int64(i+1) }
}

func itoa(n int) string { return strconv.Itoa(n) }

// problemsError is nil for no problems, else one error listing the first
// ten of them, sorted.
func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
	}
	return fmt.Errorf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
}
