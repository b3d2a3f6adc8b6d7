package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	osexec "os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// runVerify runs `tidemark verify -c cfg args...` and returns its exit
// status and output.
func runVerify(t *testing.T, cfg string, args ...string) (int, string) {
	t.Helper()
	cmd := cliCommand(tidemarkBinary(t), append([]string{"verify", "-c", cfg}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *osexec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("verify: %v\n%s", err, out.String())
	return -1, ""
}

// verifyAgrees runs tidemark verify with the configuration yaml (a file's
// path or the YAML itself) and fails the test unless every topic agrees
// with its tables.
func verifyAgrees(t *testing.T, yaml string) string {
	t.Helper()
	cfg := yaml
	if strings.Contains(yaml, "\n") {
		cfg = writeConfig(t, yaml)
	}
	code, out := runVerify(t, cfg)
	if code != 0 {
		t.Fatalf("tidemark verify: exit %d\n%s", code, out)
	}
	return out
}

// withoutBinlog runs statements on one session of db with sql_log_bin=0:
// changes the daemon never sees, so that the topic really differs.
func withoutBinlog(t *testing.T, db *sqlDB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The pool reuses the session: it must log again when handed back.
	defer func() { _, _ = c.ExecContext(ctx, "SET SESSION sql_log_bin = 1") }()
	if _, err := c.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := c.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// tidemark verify against two shards: a table the daemon captured agrees
// with its topic (with sort runs spilled to disk); changes made behind the
// daemon's back (sql_log_bin=0) are reported as missing, extra, different
// and duplicate keys with MariaDB's values; while writers keep changing
// other rows and the daemon streams them, verify reports exactly the planted
// differences and none of the changes in flight; repaired, it agrees again.
func TestVerify(t *testing.T) {
	e := newE2E(t, stackEnv(t))
	dbs := e.createShardDBs(t, 0, 1)
	const table = "accounts"
	cfg := writeConfig(t, e.config([]int{0, 1}, ""))
	p := startProcess(t, cfg)
	waitProcessStreaming(t, p, 2)
	for i, db := range dbs {
		exec(t, db.DB, "CREATE TABLE "+db.name+"."+table+` (id BIGINT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
			amount DECIMAL(30,10) NULL, tag VARBINARY(16) NULL, at DATETIME(6) NULL)`)
		var vals []string
		for j := 1; j <= 1500; j++ {
			id := int64(i+1)*1_000_000 + int64(j)
			vals = append(vals, fmt.Sprintf("(%d, 'n%d ✓', %d.%010d, UNHEX('%04x'), '2026-12-04 01:02:03.%06d')", id, j, j, j, j, j))
		}
		exec(t, db.DB, "INSERT INTO "+db.name+"."+table+" VALUES "+strings.Join(vals, ","))
	}
	code, out := runVerify(t, cfg, "--memory", "65536", "--chunk", "97")
	if code != 0 || !strings.Contains(out, e.topic(table)+": OK; 3000 rows in 2 tables, 3000 live keys") {
		t.Fatalf("verify of a captured table: exit %d\n%s\n%s", code, out, p.output())
	}

	// Differences the daemon cannot see.
	s1, s2 := dbs[0].name+"."+table, dbs[1].name+"."+table
	withoutBinlog(t, dbs[0],
		"UPDATE "+s1+" SET name = 'changed behind' WHERE id = 1000007",            // different
		"DELETE FROM "+s1+" WHERE id = 1000011",                                   // extra
		"INSERT INTO "+s1+" VALUES (1009999, 'never streamed', NULL, NULL, NULL)") // missing
	withoutBinlog(t, dbs[1], "INSERT INTO "+s2+" VALUES (1000013, 'twin', NULL, NULL, NULL)") // duplicate of shard1's
	want := map[string]string{                                                                // key → kind
		`{"id":1000007}`: "different", `{"id":1000011}`: "extra", `{"id":1009999}`: "missing", `{"id":1000013}`: "duplicate",
	}
	check := func(out string) {
		t.Helper()
		got := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "missing" || f[0] == "extra" || f[0] == "different" || f[0] == "duplicate") {
				got[strings.TrimSuffix(f[1], ";")] = f[0]
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("differences: got %v, want %v\n%s", got, want, out)
		}
		for _, s := range []string{`columns name`, `"name":"changed behind"`, `"name":"never streamed"`, `on shard1, shard2`,
			"4 DIFFERENCES (1 missing, 1 extra, 1 different, 1 duplicate, 0 not rechecked)"} {
			if !strings.Contains(out, s) {
				t.Fatalf("verify output lacks %q:\n%s", s, out)
			}
		}
	}

	// While writers change other rows on both shards and the daemon streams.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var writeErr error
	changes := 0
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := int64(i+1)*1_000_000 + 100 + rand.Int64N(1000)
				_, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE %s.%s SET name = CONCAT('w', RAND()), amount = amount + 1 WHERE id = %d", db.name, table, id))
				if err == nil {
					_, err = db.ExecContext(ctx, fmt.Sprintf("REPLACE INTO %s.%s VALUES (%d, 'new', 1.5, NULL, NOW(6))", db.name, table, int64(i+1)*1_000_000+500_000+rand.Int64N(200)))
				}
				mu.Lock()
				if err != nil && ctx.Err() == nil && writeErr == nil {
					writeErr = err
				}
				changes += 2
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	code, out = runVerify(t, cfg, "--chunk", "200")
	cancel()
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if code != 1 {
		t.Fatalf("verify while streaming: exit %d, want 1\n%s", code, out)
	}
	check(out)
	t.Logf("while streaming (%d changes written meanwhile):\n%s", changes, out)

	// Stopped daemon: --no-wait compares with what Kafka holds.
	code, out = runVerify(t, cfg, "--no-wait", "--json")
	if code != 1 || strings.Count(out, `"kind":`) != 4 {
		t.Fatalf("verify --json: exit %d\n%s", code, out)
	}

	// Repaired: the topic agrees again.
	withoutBinlog(t, dbs[0],
		"UPDATE "+s1+" SET name = 'n7 ✓' WHERE id = 1000007",
		"INSERT INTO "+s1+" VALUES (1000011, 'n11 ✓', 11.0000000011, UNHEX('000b'), '2026-12-04 01:02:03.000011')",
		"DELETE FROM "+s1+" WHERE id = 1009999")
	withoutBinlog(t, dbs[1], "DELETE FROM "+s2+" WHERE id = 1000013")
	code, out = runVerify(t, cfg)
	if code != 0 {
		t.Fatalf("verify after repair: exit %d\n%s", code, out)
	}
	t.Logf("%s", out)
}
