package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/serde"
)

// javaClaimCheck builds java/ (java/build, the stack's Maven and local
// repository) and returns the classpath of its jar, test classes and
// dependencies.
func javaClaimCheck(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"mvn", "java"} {
		if _, err := osexec.LookPath(tool); err != nil {
			if os.Getenv("TIDEMARK_REQUIRE_STACK") == "1" {
				t.Fatalf("%s is required for the Java deserializer's test", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := osexec.CommandContext(ctx, "../java/build", "-DskipTests").CombinedOutput(); err != nil {
		t.Fatalf("java/build: %v\n%s", err, out)
	}
	target, _ := filepath.Abs("../java/target")
	jars, _ := filepath.Glob(filepath.Join(target, "tidemark-claimcheck-*.jar"))
	deps, err := os.ReadFile(filepath.Join(target, "test-classpath.txt"))
	if len(jars) != 1 || err != nil {
		t.Fatalf("java/build made %v and test-classpath.txt (%v)", jars, err)
	}
	return jars[0] + ":" + filepath.Join(target, "test-classes") + ":" + strings.TrimSpace(string(deps))
}

// javaLine is a line of the Java consumer's output (ResolveTopic).
type javaLine struct {
	partition             int32
	offset                int64
	form, payload, id     string
	bodySHA, noteSHA, err string
}

// runJavaConsumer runs ResolveTopic on topic with ClaimCheckDeserializer
// and extra consumer settings.
func runJavaConsumer(t *testing.T, s *Stack, classpath, topic string, extra ...string) []javaLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"-Xmx1g", "-cp", classpath, "dev.tidemark.claimcheck.ResolveTopic",
		strings.Join(s.Brokers, ","), topic, s.RegistryURL}, extra...)
	cmd := osexec.CommandContext(ctx, "java", args...)
	cmd.Env = append(os.Environ(), "STORAGE_EMULATOR_HOST="+s.GCSHost)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java ResolveTopic: %v\n%s\n%s", err, out, stderr.String())
	}
	var lines []javaLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || (f[0] != "RECORD" && f[0] != "ERROR") {
			continue
		}
		p, _ := strconv.Atoi(f[1])
		o, _ := strconv.ParseInt(f[2], 10, 64)
		l := javaLine{partition: int32(p), offset: o}
		if f[0] == "ERROR" {
			l.err = strings.Join(f[3:], " ")
		} else if len(f) == 8 {
			l.form, l.payload, l.id, l.bodySHA, l.noteSHA = f[3], f[4], f[5], f[6], f[7]
		} else {
			t.Fatalf("java ResolveTopic printed %q", sc.Text())
		}
		lines = append(lines, l)
	}
	return lines
}

// The Java deserializer (java/, dev.tidemark.claimcheck) reads what the
// daemon wrote: rows of 900 KB, 3 MB (compressible) and 40 MB (random) in
// LONGBLOB and LONGTEXT on two shards, the 40 MB ones offloaded to the GCS
// emulator. A real KafkaConsumer (read_committed) with ClaimCheckDeserializer
// hands every value to an Avro deserializer; the SHA-256 of each row's body
// and note equals MariaDB's SHA2(col, 256), and the resolved bytes equal
// the Go serde.Decoder's. Under a bound smaller than the values the consumer
// fails with the record's partition, offset and topic; with the objects
// deleted, with the object's name too.
func TestJavaClaimCheckDeserializer(t *testing.T) {
	s := stackEnv(t)
	classpath := javaClaimCheck(t)
	w := writeLargeDocs(t, s)
	e, dbs, client, bucket := w.e, w.dbs, w.client, w.bucket
	// The expected hashes are MariaDB's own.
	wantBody, wantNote := map[string]string{}, map[string]string{}
	for _, db := range dbs {
		rows, err := db.Query("SELECT id, SHA2(body, 256), SHA2(note, 256) FROM " + db.name + ".docs")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, b, n string
			if err := rows.Scan(&id, &b, &n); err != nil {
				t.Fatal(err)
			}
			wantBody[id], wantNote[id] = b, n
		}
		rows.Close()
	}
	if len(wantBody) != 6 {
		t.Fatalf("%d rows in MariaDB", len(wantBody))
	}
	topic := e.topic("docs")
	recs := e.readAtLeast(t, topic, 6, 2*time.Minute)
	// The Go decoder's resolved bytes, by partition and offset.
	dec := e.decoder(t)
	goSHA, goForm := map[string]string{}, map[string]string{}
	for _, r := range recs {
		v, form, err := dec.Resolve(context.Background(), r.serde(topic))
		if err != nil {
			t.Fatalf("Go resolve offset %d: %v", r.Offset, err)
		}
		sum := sha256.Sum256(v)
		at := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
		goSHA[at], goForm[at] = hex.EncodeToString(sum[:]), form
	}

	lines := runJavaConsumer(t, s, classpath, topic)
	if len(lines) != len(recs) {
		t.Fatalf("the Java consumer printed %d records, the topic holds %d: %+v", len(lines), len(recs), lines)
	}
	forms := map[string]int{}
	for _, l := range lines {
		at := fmt.Sprintf("%d/%d", l.partition, l.offset)
		if l.err != "" {
			t.Fatalf("Java: %s: %s", at, l.err)
		}
		if l.bodySHA != wantBody[l.id] {
			t.Errorf("row %s: body SHA-256 %s in Java, MariaDB's %s", l.id, l.bodySHA, wantBody[l.id])
		}
		if l.noteSHA != wantNote[l.id] {
			t.Errorf("row %s: note SHA-256 %s in Java, MariaDB's %s", l.id, l.noteSHA, wantNote[l.id])
		}
		if l.payload != goSHA[at] {
			t.Errorf("%s (row %s): Java resolved %s, the Go decoder %s", at, l.id, l.payload, goSHA[at])
		}
		if want := goForm[at]; l.form != want && !(l.form == "-" && want == "") {
			t.Errorf("%s: form %s, the Go decoder says %q", at, l.form, want)
		}
		forms[l.form+l.id[len(l.id)-1:]]++
	}
	if w := map[string]int{"-1": 2, serde.ClaimCompressed + "2": 2, serde.ClaimOffloaded + "3": 2}; fmt.Sprint(forms) != fmt.Sprint(w) {
		t.Errorf("forms by row: %v, want %v", forms, w)
	}

	// A bound under the values: the consumer's error names where the
	// record is (the consumer's partition and offset) and what failed.
	bad := runJavaConsumer(t, s, classpath, topic, "tidemark.claimcheck.max.bytes=100000")
	if n := len(bad); n == 0 || bad[n-1].err == "" {
		t.Fatalf("under a 100000-byte bound the Java consumer printed no error: %+v", bad)
	}
	l := bad[len(bad)-1]
	at := fmt.Sprintf("%d/%d", l.partition, l.offset)
	if goForm[at] == "" {
		t.Errorf("the error is at %s, which is not a claim-checked record", at)
	}
	for _, want := range []string{fmt.Sprintf("partition %s-%d at offset %d", topic, l.partition, l.offset), "topic " + topic, "the bound"} {
		if !strings.Contains(l.err, want) {
			t.Errorf("the consumer's error lacks %q: %s", want, l.err)
		}
	}
	t.Logf("Java resolved %d records (%v); under the bound: %s", len(lines), forms, l.err)

	// The objects deleted (as GC does once their records are compacted
	// away): the first offloaded record fails, naming its object.
	for name := range bucketObjects(t, client, bucket) {
		if err := client.Bucket(bucket).Object(name).Delete(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	gone := runJavaConsumer(t, s, classpath, topic)
	if n := len(gone); n == 0 || gone[n-1].err == "" {
		t.Fatalf("with the objects deleted the Java consumer printed no error: %+v", gone)
	}
	l = gone[len(gone)-1]
	at = fmt.Sprintf("%d/%d", l.partition, l.offset)
	var object string
	for _, r := range recs {
		if fmt.Sprintf("%d/%d", r.Partition, r.Offset) == at {
			object = string(r.Headers[serde.HeaderClaimCheckObject])
		}
	}
	if goForm[at] != serde.ClaimOffloaded || object == "" {
		t.Fatalf("the missing object's error is at %s, form %q", at, goForm[at])
	}
	for _, want := range []string{fmt.Sprintf("partition %s-%d at offset %d", topic, l.partition, l.offset), "object " + object, "object not found", "404"} {
		if !strings.Contains(l.err, want) {
			t.Errorf("the consumer's error lacks %q: %s", want, l.err)
		}
	}
	t.Logf("with the objects deleted: %s", l.err)
}
