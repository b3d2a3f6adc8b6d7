package integration

// First tests of each real part of the stack: if one of these fails, every
// other integration test would fail for a reason that has nothing to do with
// Tidemark.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/api/iterator"
)

// A row inserted on each shard is read back from that shard's binlog, with the
// shard's GTID domain and the column names and primary key that
// binlog_row_metadata=FULL puts in the table-map event.
func TestStackMariaDBBinlogPerShard(t *testing.T) {
	s := stackEnv(t)
	for i := range s.Shards {
		t.Run(fmt.Sprintf("shard%d", i+1), func(t *testing.T) {
			db, name := s.createDatabase(t, i, "stack_binlog")
			exec(t, db, "CREATE TABLE "+name+".customers (id INT PRIMARY KEY, email VARCHAR(64) NOT NULL)")

			var pos string
			if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
				t.Fatal(err)
			}
			gset, err := mysql.ParseMariadbGTIDSet(pos)
			if err != nil {
				t.Fatalf("parse gtid_binlog_pos %q: %v", pos, err)
			}
			host, portStr, _ := strings.Cut(s.Shards[i], ":")
			port, _ := strconv.Atoi(portStr)
			syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
				ServerID: uint32(9100 + i), Flavor: mysql.MariaDBFlavor,
				Host: host, Port: uint16(port), User: s.User, Password: s.Password,
			})
			defer syncer.Close()
			streamer, err := syncer.StartSyncGTID(gset)
			if err != nil {
				t.Fatalf("start binlog sync at %s: %v", pos, err)
			}
			exec(t, db, "INSERT INTO "+name+".customers VALUES (42, 'ada@example.com')")

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var domain uint32
			for {
				ev, err := streamer.GetEvent(ctx)
				if err != nil {
					t.Fatalf("read binlog: %v", err)
				}
				switch e := ev.Event.(type) {
				case *replication.MariadbGTIDEvent:
					domain = e.GTID.DomainID
				case *replication.RowsEvent:
					if string(e.Table.Schema) != name {
						continue
					}
					if domain != uint32(i+1) {
						t.Errorf("GTID domain = %d, want %d (gtid_domain_id of shard%d)", domain, i+1, i+1)
					}
					cols := e.Table.ColumnNameString()
					if strings.Join(cols, ",") != "id,email" {
						t.Errorf("column names from row metadata = %v, want [id email]", cols)
					}
					if len(e.Table.PrimaryKey) != 1 || e.Table.PrimaryKey[0] != 0 {
						t.Errorf("primary key from row metadata = %v, want [0]", e.Table.PrimaryKey)
					}
					if len(e.Rows) != 1 || fmt.Sprint(e.Rows[0]) != "[42 ada@example.com]" {
						t.Errorf("rows = %v, want [[42 ada@example.com]]", e.Rows)
					}
					return
				}
			}
		})
	}
}

// A compacted topic is created, and a keyed record produced to it comes back.
func TestStackKafkaCompactedTopic(t *testing.T) {
	s := stackEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatalf("connect to Kafka %v: %v", s.Brokers, err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	topic := uniqueName("stack.kafka")
	compact := "compact"
	resp, err := admin.CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	defer admin.DeleteTopics(context.Background(), topic)
	// CreateTopics answers once the controller has the topic; the broker
	// that answers DescribeConfigs may learn of it a moment later (its rc.Err
	// is then UNKNOWN_TOPIC_OR_PARTITION), so ask until it knows the topic.
	var policy string
	for policy == "" {
		configs, err := admin.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := configs.On(topic, nil)
		if err == nil {
			err = rc.Err
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			select {
			case <-ctx.Done():
				t.Fatalf("topic %s still unknown to the broker after 60s", topic)
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				policy = *c.Value
			}
		}
		if policy == "" {
			t.Fatalf("topic %s has no cleanup.policy in its described configs %v", topic, rc.Configs)
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy = %q, want compact", policy)
	}

	res := client.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k1"), Value: []byte("v1")})
	produced, err := res.First()
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {produced.Partition: kgo.NewOffset().At(produced.Offset)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("record not consumed within 60s")
		}
		if recs := fetches.Records(); len(recs) > 0 {
			if string(recs[0].Key) != "k1" || string(recs[0].Value) != "v1" {
				t.Fatalf("consumed %q=%q, want k1=v1", recs[0].Key, recs[0].Value)
			}
			return
		}
	}
}

// An Avro schema registered through Apicurio's Confluent-compatible API is
// returned intact by id, connect.* properties included.
func TestStackRegistryCcompat(t *testing.T) {
	s := stackEnv(t)
	subject := uniqueName("stack.registry") + "-value"
	schema := `{"type":"record","name":"Envelope","namespace":"t.db.tbl","fields":[{"name":"id","type":"int"}],"connect.name":"t.db.tbl.Envelope","connect.version":2}`
	body, _ := json.Marshal(map[string]string{"schema": schema})
	resp, err := http.Post(s.RegistryURL+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	var reg struct{ ID int }
	decodeJSON(t, resp, &reg)
	if reg.ID <= 0 {
		t.Fatalf("registered id = %d", reg.ID)
	}
	resp, err = http.Get(fmt.Sprintf("%s/schemas/ids/%d", s.RegistryURL, reg.ID))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Schema string }
	decodeJSON(t, resp, &got)
	var a, b any
	_ = json.Unmarshal([]byte(schema), &a)
	if err := json.Unmarshal([]byte(got.Schema), &b); err != nil || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("schema by id %d = %s, want %s", reg.ID, got.Schema, schema)
	}
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// An object is written, read and deleted through the real GCS client against
// the emulator (STORAGE_EMULATOR_HOST).
func TestStackGCSEmulator(t *testing.T) {
	stackEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatalf("GCS client: %v", err)
	}
	defer client.Close()
	bucket := client.Bucket(strings.ReplaceAll(uniqueName("stack-gcs"), "_", "-"))
	if err := bucket.Create(ctx, "tidemark-test", nil); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	obj := bucket.Object("records/claim-check-1")
	payload := bytes.Repeat([]byte("tidemark "), 100_000) // 900 KB
	w := obj.NewWriter(ctx)
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("write object: %v", err)
	}
	r, err := obj.NewReader(ctx)
	if err != nil {
		t.Fatalf("open object: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read back %d bytes (err %v), want %d identical bytes", len(got), err, len(payload))
	}
	if err := obj.Delete(ctx); err != nil {
		t.Fatalf("delete object: %v", err)
	}
	if _, err := obj.Attrs(ctx); !errors.Is(err, storage.ErrObjectNotExist) {
		t.Fatalf("after delete, attrs error = %v, want ErrObjectNotExist", err)
	}
	it := bucket.Objects(ctx, nil)
	if _, err := it.Next(); err != iterator.Done {
		t.Fatalf("bucket not empty after delete: %v", err)
	}
	_ = bucket.Delete(ctx)
}
