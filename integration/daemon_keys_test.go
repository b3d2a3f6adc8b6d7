package integration

// Keys across shards (issue 8, point 8): equal primary keys on two shards
// (encoding.key_shard_field), and rows that move between shards
// (topics.rows_move_between_shards).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// With key_shard_field, two shards holding the same primary keys write
// distinct Kafka keys: a delete on one shard leaves the other's row in the
// compacted topic.
func TestDaemonKeyShardField(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	const field = "__dbz__physicalTableIdentifier"
	cfg := e.config([]int{0, 1}, "encoding:\n  key_shard_field: "+field+"\n")
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	for _, i := range []int{0, 1} {
		for id := 1; id <= 3; id++ {
			exec(t, dbs[i].DB, fmt.Sprintf("INSERT INTO %s.accounts (id, email, version, balance) VALUES (%d, 'shard%d@example.com', 1, 1.00)", dbs[i].name, id, i+1))
		}
	}
	exec(t, dbs[0].DB, "DELETE FROM "+dbs[0].name+".accounts WHERE id = 1")
	e.waitRecords(t, "accounts", 8) // 6 creates, a delete and its tombstone

	// The topic's final state, by the whole key, equals each shard's rows
	// under its own identifier (Debezium's value: <shard>.<db>.<table>).
	want := map[string]string{}
	for _, i := range []int{0, 1} {
		for id, r := range selectAccounts(t, dbs[i].DB, dbs[i].name) {
			want[fmt.Sprintf("%d/shard%d.%s.accounts", id, i+1, dbs[i].name)] = r.Email
		}
	}
	dec := e.decoder(t)
	got := map[string]string{}
	for _, r := range e.readTopic(t, e.topic("accounts")) {
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%d/%s", rec.Key["id"], rec.Key[field])
		if rec.Tombstone || rec.Op == "d" {
			delete(got, k)
		} else {
			got[k] = rec.After["email"].(string)
		}
	}
	if fmt.Sprint(sortedMap(got)) != fmt.Sprint(sortedMap(want)) {
		t.Fatalf("final state by key %v, want %v", sortedMap(got), sortedMap(want))
	}
	if _, ok := got[fmt.Sprintf("1/shard2.%s.accounts", dbs[1].name)]; !ok {
		t.Errorf("shard1's delete of id 1 removed shard2's row")
	}
}

func sortedMap(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// A resharding tool moves rows from shard1 to shard2 (copy, then delete)
// while both shards take a steady workload. With rows_move_between_shards
// the final state of the merged topic equals the union of the shards; the
// same moves without it kill moved rows in the topic, which is what the
// setting is for.
func TestDaemonRowsMoveBetweenShards(t *testing.T) {
	s := stackEnv(t)
	for _, tc := range []struct {
		name   string
		enable bool
	}{{"without the setting, moved rows die", false}, {"with rows_move_between_shards", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e, dbs := newAccountsE2E(t, s, 0, 1)
			extra := ""
			if tc.enable {
				extra = "  rows_move_between_shards: true\n"
			}
			cfg := strings.Replace(e.config([]int{0, 1}, ""), "  partitions: 3\n", "  partitions: 3\n"+extra, 1)
			d := startDaemon(t, cfg)
			d.waitStreaming(t)

			// The rows to move: their own id range, untouched by the workloads.
			const moves = 200
			const base = 5_000_000_000
			var vals []string
			for i := range moves {
				vals = append(vals, fmt.Sprintf("(%d, 'mover%d@example.com', 1, %d.00)", base+i, i, i))
			}
			exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES "+strings.Join(vals, ", "))
			e.waitRecords(t, "accounts", moves) // the rows lived on shard1 before they move

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := runWorkloads(ctx, dbs, 0)
			rng := rand.New(rand.NewPCG(7, 8))
			for i := 0; i < moves; {
				n := min(1+rng.IntN(5), moves-i) // a few rows per step, as tools batch them
				ids := make([]string, n)
				for j := range n {
					ids[j] = fmt.Sprint(base + i + j)
				}
				in := strings.Join(ids, ",")
				rows, err := dbs[0].Query("SELECT id, email, version, balance FROM " + dbs[0].name + ".accounts WHERE id IN (" + in + ")")
				if err != nil {
					t.Fatal(err)
				}
				var copies []string
				for rows.Next() {
					var id int64
					var r accountRow
					if err := rows.Scan(&id, &r.Email, &r.Version, &r.Balance); err != nil {
						t.Fatal(err)
					}
					copies = append(copies, fmt.Sprintf("(%d, '%s', %d, %s)", id, r.Email, r.Version, r.Balance))
				}
				rows.Close()
				exec(t, dbs[1].DB, "INSERT INTO "+dbs[1].name+".accounts (id, email, version, balance) VALUES "+strings.Join(copies, ", "))
				// The copy is in Kafka before the original's delete is
				// written: the order that loses rows without the option
				// (the old shard's tombstone after the new shard's row), on
				// every step rather than when the machine's timing happens
				// to produce it.
				d.waitCommittedPast(t, "shard2", dbs[1])
				exec(t, dbs[0].DB, "DELETE FROM "+dbs[0].name+".accounts WHERE id IN ("+in+")")
				i += n
			}
			time.Sleep(time.Second) // the workloads go on around the last moves
			cancel()
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			if tc.enable {
				recs := e.waitFinalState(t, dbs, 2*time.Minute)
				var workload []decodedAccount // a moved row's history restarts on its new shard
				for _, r := range recs {
					if r.id < base {
						workload = append(workload, r)
					}
				}
				if err := checkOrderAndAffinity(workload, 3, false); err != nil {
					t.Errorf("order: %v", err)
				}
				_, metrics, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
				if !strings.Contains(metrics, fmt.Sprintf(`tidemark_moved_rows_total{shard="shard1"} %d`, moves)) {
					t.Errorf("metrics do not count %d moved rows", moves)
				}
				return
			}
			// Without it: once every record is in, some moved rows are gone
			// from the topic although shard2 holds them.
			want := e.unionAccounts(t, dbs)
			dec := e.decoder(t)
			d.waitCaughtUp(t, dbs)
			err := checkFinalState(decodeAccounts(t, dec, e.readTopic(t, e.topic("accounts"))), want)
			if err == nil || !strings.Contains(err.Error(), "missing from Kafka") {
				t.Errorf("without rows_move_between_shards the moves left the topic intact (%v): the test no longer shows the hazard", err)
			}
		})
	}
}
