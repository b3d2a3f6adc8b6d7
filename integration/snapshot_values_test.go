package integration

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/serde"
)

// Every type of the matrix, read by a snapshot chunk query, arrives exactly
// as the binlog reader delivered the same row: the same Avro value schema
// (one registry version, no second one for snapshot rows) and equal values,
// column by column. The binlog's values are proven against SELECT here
// (TestDaemonTypeMatrix) and against Debezium (TestDebeziumDifferential).
func TestSnapshotTypeMatrix(t *testing.T) {
	s := stackEnv(t)
	e := newE2E(t, s)
	db := e.createShardDBs(t, 0)[0]
	var ddl []string
	for _, c := range matrix {
		ddl = append(ddl, c.name+" "+c.ddl)
	}
	table := db.name + ".matrix"
	exec(t, db.DB, "CREATE TABLE "+table+" (id INT PRIMARY KEY, "+strings.Join(ddl, ", ")+") DEFAULT CHARSET=utf8mb4")
	d := startDaemon(t, e.snapshotConfig([]int{0}, "current", 2, 2))
	d.waitStreaming(t)

	c := conn(t, db.DB)
	execConn(t, c, "SET SESSION sql_mode = ''", "SET SESSION time_zone = '+05:30'")
	for id := 1; id <= 4; id++ {
		execConn(t, c, fmt.Sprintf("INSERT INTO %s VALUES (%d, %s)", table, id, matrixRows[id]))
	}
	topic := e.topic("matrix")
	eventually(t, time.Minute, "4 binlog inserts", func() error {
		if !e.topicExists(t, topic) {
			return fmt.Errorf("no topic yet")
		}
		if n := len(e.readTopic(t, topic)); n < 4 {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	st := startSnapshot(t, d, daemon.SnapshotRequest{Tables: []string{table}})
	waitSnapshot(t, d, st.ID, "done", 2*time.Minute)

	var recs []*serde.Record
	dec := e.decoder(t)
	eventually(t, time.Minute, "4 inserts and 4 snapshot reads", func() error {
		recs = recs[:0]
		for _, r := range e.readTopic(t, topic) {
			rec, err := dec.Decode(context.Background(), r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		if len(recs) < 8 {
			return fmt.Errorf("%d records", len(recs))
		}
		return nil
	})
	created, read := map[int32]*serde.Record{}, map[int32]*serde.Record{}
	for _, r := range recs {
		id := r.After["id"].(int32)
		switch r.Op {
		case "c":
			created[id] = r
		case "r":
			read[id] = r
		default:
			t.Errorf("unexpected op %q for id %d", r.Op, id)
		}
	}
	for id := int32(1); id <= 4; id++ {
		b, s := created[id], read[id]
		if b == nil || s == nil {
			t.Fatalf("id %d: insert %v, snapshot read %v", id, b != nil, s != nil)
		}
		if b.ValueSchemaID != s.ValueSchemaID || b.KeySchemaID != s.KeySchemaID {
			t.Errorf("id %d: binlog schema ids key %d value %d, snapshot key %d value %d", id, b.KeySchemaID, b.ValueSchemaID, s.KeySchemaID, s.ValueSchemaID)
		}
		for _, m := range matrix {
			if !reflect.DeepEqual(b.After[m.name], s.After[m.name]) {
				t.Errorf("id %d column %s (%s): binlog %#v, snapshot %#v", id, m.name, m.ddl, b.After[m.name], s.After[m.name])
			}
		}
		if id == 2 {
			t.Logf("row 2 from the snapshot: f=%#v ts6=%#v uid=%#v b12=%#v el=%#v l1=%#v j=%#v", s.After["f"], s.After["ts6"], s.After["uid"], s.After["b12"], s.After["el"], s.After["l1"], s.After["j"])
		}
		if snap := s.Source["snapshot"]; snap != "incremental" || s.Source["gtid"] != nil || s.Before != nil {
			t.Errorf("id %d: snapshot read's source.snapshot %v (want incremental), gtid %v (want null), before %v", id, snap, s.Source["gtid"], s.Before)
		}
	}
}
