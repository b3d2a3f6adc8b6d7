package integration

// End-to-end tests of the daemon on the real stack: MariaDB shards → binlog
// → Avro → one compacted Kafka topic per logical table.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
)

// Two shards write concurrently into the same logical table: the merged
// topic's final state equals the union of the shards' tables, each key stays
// in its murmur2 partition, and per-key order is commit order. An ALTER
// TABLE mid-stream registers a new schema version and streaming goes on.
func TestDaemonTwoShardsMerge(t *testing.T) {
	s := stackEnv(t)
	if len(s.Shards) < 2 {
		t.Fatal("needs two shards")
	}
	e, dbs := newAccountsE2E(t, s, 0, 1)
	d := startDaemon(t, e.config([]int{0, 1}, ""))
	d.waitStreaming(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g := runWorkloads(ctx, dbs, 300)
	if err := g.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	// A new column mid-stream: a new schema version, rows keep flowing.
	exec(t, dbs[0].DB, "ALTER TABLE "+dbs[0].name+".accounts ADD COLUMN tier VARCHAR(8) NULL")
	w := newWorkload(dbs[0].DB, dbs[0].name, 0)
	w.next = 1_000_000 // fresh ids after the first run's
	if err := w.run(ctx, 50); err != nil {
		t.Fatal(err)
	}

	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkOrderAndAffinity(recs, 3, false); err != nil {
		t.Fatal(err)
	}
	shards := map[string]bool{}
	for _, r := range recs {
		if r.shard != "" {
			shards[r.shard] = true
		}
	}
	if !shards["shard1"] || !shards["shard2"] {
		t.Errorf("source.name of records: %v, want shard1 and shard2", shards)
	}
	versions := registryVersions(t, s, e.topic("accounts")+"-value")
	if versions < 2 {
		t.Errorf("%s-value has %d versions after ADD COLUMN, want 2", e.topic("accounts"), versions)
	}
	t.Logf("%d records for %d transactions per shard; %d value schema versions", len(recs), 300, versions)
}

// registryVersions counts a subject's versions.
func registryVersions(t *testing.T, s *Stack, subject string) int {
	t.Helper()
	code, body, err := httpGet(s.RegistryURL + "/subjects/" + subject + "/versions")
	if err != nil || code != 200 {
		t.Fatalf("versions of %s: %d %v %s", subject, code, err, body)
	}
	var v []int
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return len(v)
}

// The daemon is killed with SIGKILL mid-stream, restarted, and the final
// state still equals the source: nothing lost, per-key order kept,
// duplicates only as a replay of what came after the last committed position.
func TestDaemonKillAndRestart(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	cfg := writeConfig(t, e.config([]int{0, 1}, ""))
	p := startProcess(t, cfg)
	waitProcessStreaming(t, p, 2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := runWorkloads(ctx, dbs, 0)
	// Kill once records are flowing, in the middle of the workload.
	e.waitRecords(t, "accounts", 200)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	time.Sleep(500 * time.Millisecond) // the workload goes on while the daemon is down
	p2 := startProcess(t, cfg)
	waitProcessStreaming(t, p2, 2)
	time.Sleep(time.Second)
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("first process log:\n%s\nsecond process log:\n%s", p.output(), p2.output())
		}
	})
	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkOrderAndAffinity(recs, 3, true); err != nil {
		t.Fatalf("after kill -9 and restart: %v", err)
	}
	if !strings.Contains(p2.output(), "resuming") {
		t.Errorf("restarted daemon did not resume from a stored position:\n%s", p2.output())
	}
	t.Logf("%d records after kill -9 and restart", len(recs))
}

// waitProcessStreaming polls the process's /status until n shards stream.
func waitProcessStreaming(t *testing.T, p *daemonProcess, n int) {
	t.Helper()
	eventually(t, time.Minute, "daemon process streaming", func() error {
		addr := adminAddrFromLog(p.output())
		if addr == "" {
			return fmt.Errorf("no admin address in the log yet:\n%s", p.output())
		}
		_, body, err := httpGet("http://" + addr + "/status")
		if err != nil {
			return err
		}
		if got := strings.Count(body, `"state": "streaming"`); got != n {
			return fmt.Errorf("%d of %d shards streaming: %s", got, n, body)
		}
		return nil
	})
}

// adminAddrFromLog finds the admin address in the "tidemark started" line.
func adminAddrFromLog(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "tidemark started") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if a, ok := strings.CutPrefix(f, "admin="); ok {
				return a
			}
		}
	}
	return ""
}

// Every type's edge values, inserted, updated and deleted, decoded from Kafka
// equal what MariaDB's SELECT returns; fastavro (a consumer no one here
// wrote) decodes the same records to the same values.
func TestDaemonTypeMatrix(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	dbs := e.createShardDBs(t, 0)
	db := dbs[0]
	var ddl []string
	for _, c := range matrix {
		ddl = append(ddl, c.name+" "+c.ddl)
	}
	table := db.name + ".matrix"
	exec(t, db.DB, "CREATE TABLE "+table+" (id INT PRIMARY KEY, "+strings.Join(ddl, ", ")+") DEFAULT CHARSET=utf8mb4")
	d := startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)

	c := conn(t, db.DB)
	execConn(t, c, "SET SESSION sql_mode = ''", "SET SESSION time_zone = '+05:30'")
	for id := 1; id <= 4; id++ {
		execConn(t, c, fmt.Sprintf("INSERT INTO %s VALUES (%d, %s)", table, id, matrixRows[id]))
	}
	inserted := selectMatrix(t, db.DB, table)
	for _, u := range matrixUpdates {
		execConn(t, c, fmt.Sprintf(u, table))
	}
	updated := selectMatrix(t, db.DB, table)
	execConn(t, c, "DELETE FROM "+table)

	topic := e.topic("matrix")
	var recs []kafkaRecord
	eventually(t, time.Minute, "10 envelopes and 4 tombstones", func() error {
		if !e.topicExists(t, topic) {
			return fmt.Errorf("no topic yet")
		}
		recs = e.readTopic(t, topic)
		if len(recs) < 14 {
			return fmt.Errorf("%d records", len(recs))
		}
		return nil
	})
	dec := e.decoder(t)
	var decoded []*serde.Record
	for _, r := range recs {
		rec, err := dec.Decode(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, rec)
	}
	check := func(what string, img map[string]any, want map[int][]any) {
		t.Helper()
		id := img["id"].(int32)
		for i, m := range matrix {
			got, w := normalizeDecoded(img[m.name]), normalizeCanonical(want[int(id)][i])
			if f, ok := w.(float32); ok {
				if _, double := got.(float64); double {
					w = float64(f) // FLOAT(M,D) is an Avro double, as with Debezium
				}
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s row %d column %s (%s): Kafka %#v, SELECT %#v", what, id, m.name, m.ddl, got, w)
			}
		}
	}
	ops := map[int32]string{} // per key, in partition order
	for _, r := range decoded {
		id := r.Key["id"].(int32)
		switch {
		case r.Tombstone:
			ops[id] += "T"
		case r.Op == "c":
			check("insert", r.After, inserted)
		case r.Op == "u":
			check("update before", r.Before, inserted)
			check("update after", r.After, updated)
		case r.Op == "d":
			check("delete", r.Before, updated)
		}
		ops[id] += r.Op
	}
	if want := map[int32]string{1: "cdT", 2: "cudT", 3: "cdT", 4: "cudT"}; !reflect.DeepEqual(ops, want) {
		t.Errorf("ops per key = %v, want %v", ops, want)
	}

	// fastavro decodes every record to the same values as our Decoder.
	theirs := fastavroDecode(t, s, recs)
	for i, r := range decoded {
		ours, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var o struct{ Key, Value any }
		if err := json.Unmarshal(ours, &o); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(o.Key, theirs[i].Key) || !reflect.DeepEqual(o.Value, theirs[i].Value) {
			t.Errorf("record %d: fastavro and serde.Decoder disagree:\nfastavro %v\nserde    %s", i, theirs[i], ours)
		}
	}
}

// normalizeDecoded and normalizeCanonical bring a decoded Avro value and the
// canonical value of a SELECT to one comparable form: decimals and BIGINT
// UNSIGNED as exact text, geometries as {wkb, srid}.
func normalizeDecoded(v any) any {
	switch x := v.(type) {
	case serde.Decimal:
		return x.String()
	case map[string]any: // Geometry or Point struct
		out := map[string]any{"wkb": x["wkb"]}
		if srid, ok := x["srid"].(int32); ok {
			out["srid"] = srid
		}
		return out
	}
	return v
}

func normalizeCanonical(v any) any {
	switch x := v.(type) {
	case uint64:
		return fmt.Sprint(x)
	case schema.Geometry:
		out := map[string]any{"wkb": x.WKB}
		if x.SRID != nil {
			out["srid"] = *x.SRID
		}
		return out
	}
	return v
}

// fastavroDecode runs integration/testdata/fastavro_decode.py over records.
func fastavroDecode(t *testing.T, s *Stack, recs []kafkaRecord) []struct{ Key, Value any } {
	t.Helper()
	py := strings.TrimSpace(os.Getenv("TIDEMARK_TEST_PYTHON"))
	if py == "" {
		unavailable(t, "TIDEMARK_TEST_PYTHON (a python with fastavro) is not set; run: eval \"$(stack/stack env)\"")
	}
	var in strings.Builder
	for _, r := range recs {
		line := map[string]any{"key": base64.StdEncoding.EncodeToString(r.Key), "value": nil}
		if r.Value != nil {
			line["value"] = base64.StdEncoding.EncodeToString(r.Value)
		}
		b, _ := json.Marshal(line)
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := osexec.Command(py, "testdata/fastavro_decode.py", s.RegistryURL)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fastavro: %v", err)
	}
	var res []struct{ Key, Value any }
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct{ Key, Value any }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("fastavro output %q: %v", line, err)
		}
		res = append(res, r)
	}
	if len(res) != len(recs) {
		t.Fatalf("fastavro decoded %d records, want %d", len(res), len(recs))
	}
	return res
}
