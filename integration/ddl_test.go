package integration

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/serde"
)

// ddlCase is one schema change, with a row written before and one after.
type ddlCase struct {
	name   string
	create string // column definitions after "id INT PRIMARY KEY, "
	before string // INSERT value list of the row before (after id)
	ddl    string // ALTER TABLE t ... (the table is t)
	after  string // INSERT column list and values of the row after
	// compatible: streaming goes on with the after row; versions is then the
	// number of versions the value subject has. Otherwise the shard stops
	// and its error must contain refusal (the registry's reason).
	compatible bool
	versions   int
	refusal    string
	// check, for a compatible case, tests the after row as decoded.
	check func(after map[string]any) error
}

var ddlCases = []ddlCase{
	{name: "add nullable column", create: "a INT", before: "1", ddl: "ADD COLUMN c INT",
		after: "(id, a, c) VALUES (2, 2, 7)", compatible: true, versions: 2,
		check: field("c", int32(7))},
	{name: "add NOT NULL column with DEFAULT", create: "a INT", before: "1", ddl: "ADD COLUMN c INT NOT NULL DEFAULT 0",
		after: "(id, a) VALUES (2, 2)", compatible: true, versions: 2,
		check: field("c", int32(0))},
	{name: "add NOT NULL column without DEFAULT", create: "a INT", before: "1", ddl: "ADD COLUMN c INT NOT NULL",
		after: "(id, a, c) VALUES (2, 2, 7)", refusal: "Incompatible artifact"},
	{name: "drop column", create: "a INT, b INT", before: "1, 1", ddl: "DROP COLUMN b",
		after: "(id, a) VALUES (2, 2)", compatible: true, versions: 2,
		check: func(r map[string]any) error {
			if _, ok := r["b"]; ok {
				return fmt.Errorf("b still there: %v", r)
			}
			return field("a", int32(2))(r)
		}},
	{name: "INT to BIGINT", create: "a INT NOT NULL", before: "1", ddl: "MODIFY a BIGINT NOT NULL",
		after: "(id, a) VALUES (2, 5000000000)", compatible: true, versions: 2,
		check: field("a", int64(5000000000))},
	{name: "VARCHAR(10) to VARCHAR(100)", create: "a VARCHAR(10)", before: "'x'", ddl: "MODIFY a VARCHAR(100)",
		after: "(id, a) VALUES (2, '" + strings.Repeat("y", 50) + "')", compatible: true, versions: 1,
		check: field("a", strings.Repeat("y", 50))},
	{name: "rename a nullable column", create: "a INT", before: "1", ddl: "RENAME COLUMN a TO b",
		after: "(id, b) VALUES (2, 3)", compatible: true, versions: 2,
		check: field("b", int32(3))},
	{name: "rename a NOT NULL column", create: "a INT NOT NULL", before: "1", ddl: "RENAME COLUMN a TO b",
		after: "(id, b) VALUES (2, 3)", refusal: "Incompatible artifact"},
	{name: "ENUM member appended", create: "e ENUM('x','y')", before: "'x'", ddl: "MODIFY e ENUM('x','y','z')",
		after: "(id, e) VALUES (2, 'z')", compatible: true, versions: 2,
		check: field("e", "z")},
	{name: "column type swapped", create: "a INT", before: "1", ddl: "MODIFY a VARCHAR(20)",
		after: "(id, a) VALUES (2, 'two')", refusal: "reader union lacking writer type"},
}

func field(name string, want any) func(map[string]any) error {
	return func(r map[string]any) error {
		if got := r[name]; !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s = %#v, want %#v", name, got, want)
		}
		return nil
	}
}

// TestDDLMatrix runs each schema change under the registry's BACKWARD rule
// (Confluent's default; Apicurio's default is NONE, so the test sets
// BACKWARD on each case's subjects before anything is registered), with a
// row written before the statement and one after, on the real stack. Each
// case either keeps streaming with a new compatible version (or the same
// schema), or stops its shard with an error naming the table, the DDL, the
// registry's reason and the operator's options, and writes nothing after
// the change. Each case has its own database, topic and daemon, so that a
// stopped shard does not hide the next case. docs/wire-format.md
// ("Schema changes") lists the outcomes.
func TestDDLMatrix(t *testing.T) {
	s := stackEnv(t)
	for _, c := range ddlCases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			e := newE2E(t, s)
			db := e.createShardDBs(t, 0)[0]
			topic := e.topic("t")
			for _, subj := range []string{topic + "-key", topic + "-value"} {
				setCompatibility(t, s, subj, "BACKWARD")
			}
			exec(t, db.DB, fmt.Sprintf("CREATE TABLE %s.t (id INT PRIMARY KEY, %s)", db.name, c.create))
			d := startDaemon(t, e.config([]int{0}, ""))
			d.waitStreaming(t)
			exec(t, db.DB, fmt.Sprintf("INSERT INTO %s.t VALUES (1, %s)", db.name, c.before))
			e.waitRecords(t, "t", 1)

			ddl := fmt.Sprintf("ALTER TABLE %s.t %s", db.name, c.ddl)
			exec(t, db.DB, ddl, fmt.Sprintf("INSERT INTO %s.t %s", db.name, c.after))

			if c.compatible {
				// Row 1 may arrive twice (the start's snapshot reads it, and
				// the binlog its insert): wait for row 2 itself.
				dec := e.decoder(t)
				var last *serde.Record
				eventually(t, time.Minute, "the row after the DDL", func() error {
					for _, r := range e.readTopic(t, topic) {
						rec, err := dec.Decode(context.Background(), r.Key, r.Value)
						if err != nil {
							t.Fatal(err)
						}
						if rec.Key["id"] == int32(2) {
							last = rec
						}
					}
					if last == nil {
						return fmt.Errorf("no record of row 2 yet")
					}
					return nil
				})
				if last.Op != "c" {
					t.Fatalf("the row after the DDL: %+v", last)
				}
				if err := c.check(last.After); err != nil {
					t.Errorf("after %s: %v", c.ddl, err)
				}
				if n := registryVersions(t, s, topic+"-value"); n != c.versions {
					t.Errorf("%s-value has %d versions, want %d", topic, n, c.versions)
				}
				for _, st := range d.d.Status() {
					if st.State != daemon.StateStreaming {
						t.Errorf("shard %s is %s: %s", st.Shard, st.State, st.LastError)
					}
				}
				return
			}

			var st daemon.ShardStatus
			eventually(t, time.Minute, "the shard stopped", func() error {
				st = d.d.Status()[0]
				if st.State != daemon.StateFailed {
					return fmt.Errorf("shard is %s", st.State)
				}
				return nil
			})
			for _, want := range []string{db.name + ".t", ddl, c.refusal, "DEFAULT", `{"compatibility":"NONE"}`, topic + "-value"} {
				if !strings.Contains(st.LastError, want) {
					t.Errorf("the shard's error lacks %q:\n%s", want, st.LastError)
				}
			}
			if st.LastErrorClass != "incompatible_schema" {
				t.Errorf("error class %q, want incompatible_schema", st.LastErrorClass)
			}
			if n := len(e.readTopic(t, topic)); n != 1 {
				t.Errorf("%s holds %d records, want only the one before the DDL", topic, n)
			}
		})
	}
}

// setCompatibility sets a subject's compatibility rule through the
// Confluent-compatible API (Apicurio accepts it before the subject exists).
func setCompatibility(t *testing.T, s *Stack, subject, level string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.RegistryURL+"/config/"+subject,
		strings.NewReader(`{"compatibility":"`+level+`"}`))
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT config/%s: %s", subject, resp.Status)
	}
}
