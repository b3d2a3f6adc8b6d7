package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	osexec "os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/serde"
)

// largeValues are the rows of the claim-check tests: a value just under
// the limit, a compressible one three times over it, an incompressible
// one forty times over it.
func largeValues() map[int64][]byte {
	text := bytes.Repeat([]byte("Crème brûlée à la française, 😀 "), 3_000_000/36)
	random := make([]byte, 40<<20)
	rand.Read(random)
	under := make([]byte, 900_000)
	rand.Read(under)
	return map[int64][]byte{1: under, 2: text, 3: random}
}

// docsTable is a test's own corner of the stack with one table on shard 1,
// docs (id BIGINT PRIMARY KEY, body LONGBLOB).
func docsTable(t *testing.T) (*e2eSetup, *sqlDB) {
	t.Helper()
	e := newE2E(t, stackEnv(t))
	db := e.createShardDBs(t, 0)[0]
	exec(t, db.DB, "CREATE TABLE "+db.name+".docs (id BIGINT PRIMARY KEY, body LONGBLOB)")
	return e, db
}

// stackCommand runs stack/stack (stop gcs, up, ...) on the tests' stack.
func stackCommand(t *testing.T, args ...string) {
	t.Helper()
	if out, err := osexec.Command("../stack/stack", args...).CombinedOutput(); err != nil {
		t.Fatalf("stack/stack %v: %v\n%s", args, err, out)
	}
}

// largeRecordsConfig is the large_records block for bucket, with its
// secret in the environment.
func largeRecordsConfig(t *testing.T, bucket string) string {
	t.Setenv("TIDEMARK_TEST_LARGE_SECRET", "a-test-secret-of-some-length")
	return "large_records:\n  store: gs://" + bucket + "\n  secret_env: TIDEMARK_TEST_LARGE_SECRET\n"
}

// newBucket creates a bucket of its own on the GCS emulator.
func newBucket(t *testing.T) (*storage.Client, string) {
	t.Helper()
	ctx := context.Background()
	client, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatalf("GCS client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	bucket := strings.ReplaceAll(uniqueName("large"), "_", "-")
	if err := client.Bucket(bucket).Create(ctx, "tidemark-test", nil); err != nil {
		t.Fatalf("create bucket %s on the emulator: %v", bucket, err)
	}
	return client, bucket
}

func bucketObjects(t *testing.T, client *storage.Client, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	it := client.Bucket(bucket).Objects(ctx, nil)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := client.Bucket(bucket).Object(a.Name).NewReader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		out[a.Name] = b
	}
}

// writeLargeDocs starts a daemon on shards 1 and 2 with the claim-check
// storing to a new bucket of the GCS emulator, and inserts largeValues
// (900 KB, 3 MB compressible, 40 MB random) into a docs table on each:
// LONGBLOB body, and LONGTEXT note holding the compressible text too.
func writeLargeDocs(t *testing.T, s *Stack) largeDocs {
	t.Helper()
	e := newE2E(t, s)
	dbs := e.createShardDBs(t, 0, 1)
	for _, db := range dbs {
		exec(t, db.DB, "CREATE TABLE "+db.name+".docs (id BIGINT PRIMARY KEY, shard INT NOT NULL, body LONGBLOB, note LONGTEXT) CHARACTER SET utf8mb4")
	}
	client, bucket := newBucket(t)
	d := startDaemon(t, e.config([]int{0, 1}, largeRecordsConfig(t, bucket)))
	d.waitStreaming(t)
	values := largeValues()
	for i, db := range dbs {
		for id, v := range values {
			key := id + int64(i)*10
			note := fmt.Sprintf("row %d", key)
			if id == 2 { // the compressible text in LONGTEXT too
				note = string(v)
			}
			if _, err := db.Exec("INSERT INTO "+db.name+".docs VALUES (?, ?, ?, ?)", key, i, v, note); err != nil {
				t.Fatalf("insert a %d-byte row: %v", len(v), err)
			}
		}
	}
	return largeDocs{e, dbs, client, bucket, values}
}

// largeDocs is what writeLargeDocs set up and wrote.
type largeDocs struct {
	e      *e2eSetup
	dbs    map[int]*sqlDB
	client *storage.Client
	bucket string
	values map[int64][]byte // by id on shard 1 (id+10 on shard 2)
}

// Rows of 900 KB, 3 MB (compressible) and 40 MB (random) on two shards all
// reach the broker under its default 1 MB limit; the decoder returns
// MariaDB's own bytes; the 40 MB rows are offloaded, encrypted, once each.
func TestLargeRecordsReachKafka(t *testing.T) {
	s := stackEnv(t)
	w := writeLargeDocs(t, s)
	e, dbs, client, bucket, values := w.e, w.dbs, w.client, w.bucket, w.values
	want, wantNote := map[int64][]byte{}, map[int64]string{}
	for _, db := range dbs { // MariaDB's own bytes, not the test's
		rows, err := db.Query("SELECT id, body, note FROM " + db.name + ".docs")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var b []byte
			var note string
			rows.Scan(&id, &b, &note)
			want[id], wantNote[id] = b, note
		}
		rows.Close()
	}

	topic := e.topic("docs")
	recs := e.readAtLeast(t, topic, 6, 2*time.Minute)
	dec := e.decoder(t)
	forms := map[string]int{}
	for _, r := range recs {
		if n := len(r.Key) + len(r.Value); n > 1_000_000 {
			t.Errorf("a %d-byte record in Kafka", n)
		}
		rec, err := dec.DecodeRecord(context.Background(), r.serde(topic))
		if err != nil {
			t.Fatalf("decode offset %d: %v", r.Offset, err)
		}
		id := rec.After["id"].(int64)
		if got := rec.After["body"].([]byte); !bytes.Equal(got, want[id]) {
			t.Errorf("row %d: %d bytes decoded, MariaDB holds %d (equal %v)", id, len(got), len(want[id]), bytes.Equal(got, want[id]))
		}
		if got := rec.After["note"].(string); got != wantNote[id] {
			t.Errorf("row %d: a %d-byte note decoded, MariaDB holds %d bytes", id, len(got), len(wantNote[id]))
		}
		if string(r.Headers[serde.HeaderClaimCheck]) != rec.ClaimCheck {
			t.Errorf("row %d: header %q, decoded form %q", id, r.Headers[serde.HeaderClaimCheck], rec.ClaimCheck)
		}
		forms[rec.ClaimCheck+fmt.Sprint(id%10)]++
	}
	if w := map[string]int{"1": 2, "compressed2": 2, "offloaded3": 2}; fmt.Sprint(forms) != fmt.Sprint(w) {
		t.Errorf("forms by row: %v, want %v", forms, w)
	}
	objects := bucketObjects(t, client, bucket)
	if len(objects) != 2 {
		t.Fatalf("%d objects in the bucket, want one per 40 MB row: %v", len(objects), objects)
	}
	for name, b := range objects {
		if bytes.Contains(b, values[3][4096:4096+64]) {
			t.Errorf("object %s holds the plaintext", name)
		}
	}
}

// A threshold far under Kafka's limit (large_records.threshold) applies to
// every record above it, however small: a 20 KB compressible row is
// compressed and a 100 KB random one offloaded, a 1 KB one stays inline.
func TestLargeRecordSmallThreshold(t *testing.T) {
	e, db := docsTable(t)
	client, bucket := newBucket(t)
	d := startDaemon(t, e.config([]int{0}, largeRecordsConfig(t, bucket)+"  threshold: 8KiB\n"))
	d.waitStreaming(t)
	random := make([]byte, 100_000)
	rand.Read(random)
	exec(t, db.DB, "INSERT INTO "+db.name+".docs VALUES (1, REPEAT('a', 1000)), (2, REPEAT('tidemark ', 2300)), (3, x'"+fmt.Sprintf("%x", random)+"')")
	topic := e.topic("docs")
	var recs []kafkaRecord
	eventually(t, time.Minute, "three records in "+topic, func() error {
		if recs = e.readTopic(t, topic); len(recs) < 3 {
			return fmt.Errorf("%d records", len(recs))
		}
		return nil
	})
	want := map[int64][]byte{}
	rows, err := db.Query("SELECT id, body FROM " + db.name + ".docs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var b []byte
		rows.Scan(&id, &b)
		want[id] = b
	}
	rows.Close()
	dec := e.decoder(t)
	forms := map[int64]string{}
	for _, r := range recs {
		if n := len(r.Key) + len(r.Value); n > 8<<10 {
			t.Errorf("offset %d: a %d-byte record over the 8 KiB threshold", r.Offset, n)
		}
		rec, err := dec.DecodeRecord(context.Background(), r.serde(topic))
		if err != nil {
			t.Fatalf("decode offset %d: %v", r.Offset, err)
		}
		id := rec.After["id"].(int64)
		if !bytes.Equal(rec.After["body"].([]byte), want[id]) {
			t.Errorf("row %d: decoded bytes differ from MariaDB's", id)
		}
		forms[id] = rec.ClaimCheck
	}
	if w := map[int64]string{1: "", 2: serde.ClaimCompressed, 3: serde.ClaimOffloaded}; fmt.Sprint(forms) != fmt.Sprint(w) {
		t.Errorf("forms %v, want %v", forms, w)
	}
	if n := len(bucketObjects(t, client, bucket)); n != 1 {
		t.Errorf("%d objects, want 1", n)
	}
}

// GC against real compaction: a key's large value is replaced by small
// ones, the broker compacts the old records away, and GC deletes their
// objects and keeps the one a live record references; a dry run deletes
// nothing.
func TestLargeRecordGCAfterCompaction(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	dbs := e.createShardDBs(t, 0)
	db := dbs[0]
	exec(t, db.DB, "CREATE TABLE "+db.name+".docs (id BIGINT PRIMARY KEY, body LONGBLOB)")
	client, bucket := newBucket(t)
	cfg := strings.Replace(e.config([]int{0}, largeRecordsConfig(t, bucket)),
		"  replication_factor: 1\n", "  replication_factor: 1\n  config:\n    segment.ms: '200'\n    min.cleanable.dirty.ratio: '0.001'\n    delete.retention.ms: '100'\n    max.compaction.lag.ms: '1000'\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	big := func() []byte { b := make([]byte, 3<<20); rand.Read(b); return b }
	exec(t, db.DB, "INSERT INTO "+db.name+".docs VALUES (1, x'"+fmt.Sprintf("%x", big())+"'), (2, x'"+fmt.Sprintf("%x", big())+"')")
	topic := e.topic("docs")
	eventually(t, time.Minute, "two offloaded objects", func() error {
		if n := len(bucketObjects(t, client, bucket)); n != 2 {
			return fmt.Errorf("%d objects", n)
		}
		return nil
	})
	// The first update's record carries the large before image (offloaded
	// too); the second one's is small: key 1's live record then references
	// nothing, and its two older versions' objects become orphans.
	exec(t, db.DB, "UPDATE "+db.name+".docs SET body = 'small' WHERE id = 1", "UPDATE "+db.name+".docs SET body = 'small2' WHERE id = 1")
	// Compaction cleans only rolled segments: keep writing until the
	// broker has removed key 1's large version.
	eventually(t, 2*time.Minute, "the large versions of key 1 compacted away", func() error {
		exec(t, db.DB, "INSERT INTO "+db.name+".docs VALUES (1000 + FLOOR(RAND() * 1000000), 'tick') ON DUPLICATE KEY UPDATE body = 'tock'")
		n := 0
		for _, r := range e.readTopic(t, topic) {
			if len(r.Headers[serde.HeaderClaimCheckObject]) > 0 {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%d pointer records", n)
		}
		return nil
	})
	d.stop()
	before := bucketObjects(t, client, bucket)
	if len(before) != 3 {
		t.Fatalf("%d objects before gc, want 3 (two inserts, the first update)", len(before))
	}
	conf, err := daemon.LoadConfig(writeConfig(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	var live string
	for _, r := range e.readTopic(t, topic) {
		if h := r.Headers[serde.HeaderClaimCheckObject]; len(h) > 0 {
			live = string(h)
		}
	}
	ctx := context.Background()
	res, err := daemon.CollectLargeRecords(ctx, conf, daemon.GCOptions{Grace: time.Nanosecond, DryRun: true}, slog.Default())
	if err != nil || len(res) != 1 || res[0].Deleted != 2 || res[0].Referenced != 1 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if n := len(bucketObjects(t, client, bucket)); n != 3 {
		t.Fatalf("a dry run left %d objects", n)
	}
	// The deletion itself by the daemon's periodic GC (large_records.gc):
	// its metrics and /status show the run.
	d = startDaemon(t, strings.Replace(cfg, "large_records:\n", "large_records:\n  gc:\n    interval: 1s\n    grace: 1ms\n", 1))
	var status struct {
		GC *daemon.GCStatus `json:"large_record_gc"`
	}
	eventually(t, time.Minute, "a periodic gc run that deleted the two orphans", func() error {
		_, body, err := httpGet("http://" + d.d.AdminAddr() + "/status")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(body), &status); err != nil || status.GC == nil {
			return fmt.Errorf("no large_record_gc in /status (%v): %s", err, body)
		}
		if status.GC.Runs < 1 || status.GC.LastError != "" {
			return fmt.Errorf("gc status %+v", *status.GC)
		}
		// (Runs repeat every second: the cumulative counter, not the last
		// run's figure, shows what was deleted.)
		_, metrics, err := httpGet("http://" + d.d.AdminAddr() + "/metrics")
		for _, want := range []string{`tidemark_largerecord_gc_objects_total{action="deleted"} 2`, `tidemark_largerecord_gc_runs_total{result="ok"}`, "tidemark_largerecord_gc_last_success_timestamp_seconds"} {
			if err != nil || !strings.Contains(metrics, want) {
				return fmt.Errorf("metrics lack %s (err %v)", want, err)
			}
		}
		return nil
	})
	d.stop()
	after := bucketObjects(t, client, bucket)
	if len(after) != 1 || !strings.HasSuffix(live, "/"+keysOf(after)[0]) {
		t.Fatalf("after gc: %v; the live record references %s (before: %v)", keysOf(after), live, keysOf(before))
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The GCS emulator stopped mid-stream: the shard waits (state
// waiting_for_store, a warning, the error metric) and writes nothing past
// the record it cannot store; back up, everything arrives, in order, with
// MariaDB's bytes.
func TestLargeRecordStoreDown(t *testing.T) {
	e, db := docsTable(t)
	_, bucket := newBucket(t)
	d := startDaemon(t, strings.Replace(e.config([]int{0}, largeRecordsConfig(t, bucket)),
		"  partitions: 3\n", "  partitions: 1\n", 1)) // one partition: the order of every record shows
	d.waitStreaming(t)
	big := func() []byte { b := make([]byte, 2<<20); rand.Read(b); return b }
	insert := func(id int64, body []byte) {
		if _, err := db.Exec("INSERT INTO "+db.name+".docs VALUES (?, ?)", id, body); err != nil {
			t.Fatal(err)
		}
	}
	insert(1, big())
	topic := e.topic("docs")
	e.waitRecords(t, "docs", 1)

	stackCmd := func(args ...string) { stackCommand(t, args...) }
	stackCmd("stop", "gcs")
	restarted := false
	defer func() {
		if !restarted {
			stackCmd("up")
		}
	}()
	insert(2, big())
	insert(3, []byte("small, after the large one"))
	eventually(t, 2*time.Minute, "the shard waiting for the store", func() error {
		st := d.d.Status()[0]
		if st.State != daemon.StateWaitingForStore || st.Warnings["large_record_store_unavailable"] == nil {
			return fmt.Errorf("state %s, warnings %v", st.State, st.Warnings)
		}
		return nil
	})
	if n := len(e.readTopic(t, topic)); n != 1 {
		t.Fatalf("%d records while the store is down, want only the first", n)
	}
	_, m, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
	if metricSum(m, "tidemark_largerecord_store_errors_total") < 1 {
		t.Errorf("no store error counted:\n%s", grepLines(m, "tidemark_largerecord"))
	}
	stackCmd("up")
	restarted = true
	e.waitRecords(t, "docs", 3)
	dec := e.decoder(t)
	var ids []int64
	for _, r := range e.readTopic(t, topic) {
		rec, err := dec.DecodeRecord(context.Background(), r.serde(topic))
		if err != nil {
			t.Fatal(err)
		}
		id := rec.After["id"].(int64)
		var want []byte
		db.QueryRow("SELECT body FROM "+db.name+".docs WHERE id = ?", id).Scan(&want)
		if !bytes.Equal(rec.After["body"].([]byte), want) {
			t.Errorf("row %d differs from MariaDB's", id)
		}
		ids = append(ids, id)
	}
	if fmt.Sprint(ids) != "[1 2 3]" {
		t.Errorf("records %v, want [1 2 3] in order", ids)
	}
	eventually(t, time.Minute, "streaming again", func() error {
		if st := d.d.Status()[0]; st.State != daemon.StateStreaming {
			return fmt.Errorf("state %s", st.State)
		}
		return nil
	})
}

// kill -9 after the object write and before the Kafka ack: the restarted
// daemon replays the row and finds its object, leaving one, not two.
func TestLargeRecordReplayAfterKill(t *testing.T) {
	e, db := docsTable(t)
	client, bucket := newBucket(t)
	cfg := writeConfig(t, e.config([]int{0}, largeRecordsConfig(t, bucket)))
	p := startProcess(t, cfg)
	waitProcessStreaming(t, p, 1)
	exec(t, db.DB, "INSERT INTO "+db.name+".docs VALUES (1, 'small')")
	e.waitRecords(t, "docs", 1)
	time.Sleep(time.Second) // the position of record 1 is committed (every 250 ms)

	stackCmd := func(args ...string) { stackCommand(t, args...) }
	stackCmd("stop", "kafka") // the record can be stored but never acknowledged
	kafkaUp := false
	defer func() {
		if !kafkaUp {
			stackCmd("up")
		}
	}()
	body := make([]byte, 3<<20)
	rand.Read(body)
	if _, err := db.Exec("INSERT INTO "+db.name+".docs VALUES (2, ?)", body); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the object written while Kafka is down", func() error {
		if n := len(bucketObjects(t, client, bucket)); n != 1 {
			return fmt.Errorf("%d objects", n)
		}
		return nil
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	stackCmd("up")
	kafkaUp = true
	p2 := startProcess(t, cfg)
	waitProcessStreaming(t, p2, 1)
	e.waitRecords(t, "docs", 2)
	topic := e.topic("docs")
	dec := e.decoder(t)
	found := false
	for _, r := range e.readTopic(t, topic) {
		rec, err := dec.DecodeRecord(context.Background(), r.serde(topic))
		if err != nil {
			t.Fatal(err)
		}
		if rec.After["id"].(int64) == 2 {
			found = true
			if !bytes.Equal(rec.After["body"].([]byte), body) || rec.ClaimCheck != serde.ClaimOffloaded {
				t.Errorf("row 2 after the replay: form %q, bytes equal %v", rec.ClaimCheck, bytes.Equal(rec.After["body"].([]byte), body))
			}
		}
	}
	if !found {
		t.Fatal("row 2 never reached Kafka")
	}
	if objs := bucketObjects(t, client, bucket); len(objs) != 1 {
		t.Errorf("%d objects after the replay, want 1: %v", len(objs), keysOf(objs))
	}
	if !strings.Contains(p2.output(), "resuming") {
		t.Errorf("the restarted daemon did not resume from a stored position:\n%s", p2.output())
	}
}
