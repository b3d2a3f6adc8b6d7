package integration

// Helpers for end-to-end tests of the daemon: a configuration for the stack,
// the daemon in-process or as a process (for kill -9), and Kafka read back.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/serde"
)

// e2eSetup is one test's private corner of the stack: its topic prefix,
// positions topic and database base name, so tests never see each other's
// records or positions.
type e2eSetup struct {
	s              *Stack
	prefix         string // topic prefix, e.g. it_1a2b3c4d
	positionsTopic string
	base           string // logical database name; shard i holds <base>_shard_<i+1>
}

func newE2E(t *testing.T, s *Stack) *e2eSetup {
	t.Helper()
	id := uniqueName("it")
	e := &e2eSetup{s: s, prefix: id, positionsTopic: id + ".positions", base: id}
	t.Cleanup(func() { e.deleteTopics(t) })
	return e
}

// shardDB is the physical database name of the logical database on shard i.
func (e *e2eSetup) shardDB(i int) string { return fmt.Sprintf("%s_shard_%d", e.base, i+1) }

// topic is the merged topic of a logical table.
func (e *e2eSetup) topic(table string) string { return e.prefix + "." + e.base + "." + table }

// sqlDB is an admin connection to a shard and the test database on it.
type sqlDB struct {
	*sql.DB
	name string
}

// createShardDBs creates the logical database on the given shards (dropped at
// cleanup) and returns an admin connection per shard.
func (e *e2eSetup) createShardDBs(t *testing.T, shards ...int) map[int]*sqlDB {
	t.Helper()
	out := map[int]*sqlDB{}
	for _, i := range shards {
		db := e.s.adminDB(t, i)
		name := e.shardDB(i)
		exec(t, db, "CREATE DATABASE "+name)
		t.Cleanup(func() { _, _ = db.Exec("DROP DATABASE IF EXISTS " + name) })
		out[i] = &sqlDB{DB: db, name: name}
	}
	return out
}

// config renders a daemon configuration capturing the logical database on
// the given shards. extra is appended verbatim (YAML at the top level).
func (e *e2eSetup) config(shards []int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `admin:
  listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  positions_topic: %s
  linger: 2ms
registry:
  url: %s
topics:
  prefix: %s
  partitions: 3
  replication_factor: 1
  database_rewrites:
    - match: '%s_shard_\d+'
      replace: %s
defaults:
  user: %s
  password_env: TIDEMARK_MYSQL_PASSWORD
  flavor: mariadb
  heartbeat_period: 500ms
  tables:
    - database: '%s_shard_*'
shards:
`, strings.Join(e.s.Brokers, ", "), e.positionsTopic, e.s.RegistryURL, e.prefix, e.base, e.base, e.s.User, e.base)
	for _, i := range shards {
		host, port, _ := strings.Cut(e.s.Shards[i], ":")
		fmt.Fprintf(&b, "  - name: shard%d\n    host: %s\n    port: %s\n    server_id: %d\n", i+1, host, port, 20000+rand.IntN(40000))
	}
	b.WriteString(extra)
	return b.String()
}

// writeConfig writes a configuration file into the test's temp dir.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tidemark.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// inProcessDaemon runs the daemon in this process until the test ends (or
// stop is called, which drains and commits like SIGTERM).
type inProcessDaemon struct {
	d    *daemon.Daemon
	stop func()
	log  *syncBuffer // everything the daemon logged
}

// syncBuffer collects log output for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t *testing.T, yaml string, opts ...daemon.Option) *inProcessDaemon {
	t.Helper()
	cfg, err := daemon.LoadConfig(writeConfig(t, yaml), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(testLogWriter{t}, buf), &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := daemon.New(cfg, log, "it", opts...)
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				// Tests of terminal failures expect ErrAllShardsFailed; the
				// others check their shards' status themselves.
				if err != nil && !errors.Is(err, daemon.ErrAllShardsFailed) {
					t.Errorf("daemon.Run: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Errorf("daemon did not stop within 60s")
			}
		})
	}
	t.Cleanup(stop)
	eventually(t, 30*time.Second, "admin endpoint listening", func() error {
		if d.AdminAddr() == "" {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	return &inProcessDaemon{d: d, stop: stop, log: buf}
}

// status returns the named shard's status.
func (p *inProcessDaemon) status(t *testing.T, shard string) daemon.ShardStatus {
	t.Helper()
	for _, s := range p.d.Status() {
		if s.Shard == shard {
			return s
		}
	}
	t.Fatalf("no shard %s in status", shard)
	return daemon.ShardStatus{}
}

// waitStreaming waits until every shard of the daemon is streaming.
func (p *inProcessDaemon) waitStreaming(t *testing.T) {
	t.Helper()
	eventually(t, 60*time.Second, "all shards streaming", func() error {
		for _, s := range p.d.Status() {
			if s.State != daemon.StateStreaming {
				return fmt.Errorf("shard %s is %s (last error: %s)", s.Shard, s.State, s.LastError)
			}
		}
		return nil
	})
}

// testLogWriter sends the daemon's log lines to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tidemarkBinary builds cmd/tidemark once per test run.
func tidemarkBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tidemark-it-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tidemark")
		out, err := osexec.Command("go", "build", "-o", binPath, "../cmd/tidemark").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// daemonProcess is `tidemark run` as a child process, so a test can kill -9 it.
type daemonProcess struct {
	cmd  *osexec.Cmd
	log  *strings.Builder
	mu   *sync.Mutex
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

func startProcess(t *testing.T, cfgPath string, args ...string) *daemonProcess {
	t.Helper()
	cmd := osexec.Command(tidemarkBinary(t), append([]string{"run", "-c", cfgPath}, args...)...)
	cmd.Env = os.Environ()
	var mu sync.Mutex
	log := &strings.Builder{}
	w := lockedWriter{mu: &mu, b: log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProcess{cmd: cmd, log: log, mu: &mu, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *daemonProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

// httpGet fetches an admin URL's body.
func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// kafkaRecord is one record read back from a topic.
type kafkaRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte // nil: tombstone
	Headers   map[string][]byte
}

// serde is the record as the serde's DecodeRecord takes it.
func (r kafkaRecord) serde(topic string) *serde.KafkaRecord {
	kr := &serde.KafkaRecord{Topic: topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	for k, v := range r.Headers {
		kr.Headers = append(kr.Headers, serde.Header{Key: k, Value: v})
	}
	return kr
}

// readTopic reads a topic from the start to its current last stable
// offsets, as a read_committed consumer: the records of committed
// transactions (and non-transactional ones), never those of aborted or
// open transactions.
func (e *e2eSetup) readTopic(t *testing.T, topic string) []kafkaRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.s.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords()) // the markers reach the end offset too
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	ends := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			ends[o.Partition] = o.Offset
		}
	})
	var out []kafkaRecord
	for len(ends) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: timed out with partitions %v unfinished", topic, ends)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := ends[r.Partition]
			if !ok {
				return
			}
			// Done at end-1, or at anything after it: the record at end-1
			// may be one of an aborted transaction, which read_committed
			// never delivers (another shard's transaction, open when the
			// end was listed, began before that one's abort marker); the
			// open one's records or marker come after the end once it ends.
			if r.Offset >= end-1 {
				delete(ends, r.Partition)
			}
			if r.Offset >= end {
				return
			}
			if r.Attrs.IsControl() {
				return
			}
			kr := kafkaRecord{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				if kr.Headers == nil {
					kr.Headers = map[string][]byte{}
				}
				kr.Headers[h.Key] = h.Value
			}
			out = append(out, kr)
		})
	}
	return out
}

// waitRecords waits until a table's topic holds at least n records.
func (e *e2eSetup) waitRecords(t *testing.T, table string, n int) {
	t.Helper()
	e.readAtLeast(t, e.topic(table), n, time.Minute)
}

// readAtLeast reads topic (readTopic) until it holds at least n records,
// for up to within, and returns them.
func (e *e2eSetup) readAtLeast(t *testing.T, topic string, n int, within time.Duration) []kafkaRecord {
	t.Helper()
	var recs []kafkaRecord
	eventually(t, within, fmt.Sprintf("%d records in %s", n, topic), func() error {
		if !e.topicExists(t, topic) {
			return fmt.Errorf("no topic yet")
		}
		if recs = e.readTopic(t, topic); len(recs) < n {
			return fmt.Errorf("%d records", len(recs))
		}
		return nil
	})
	return recs
}

// topicExists reports whether a topic exists.
func (e *e2eSetup) topicExists(t *testing.T, topic string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.s.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return td.Has(topic)
}

// deleteTopics removes every topic of this test's prefix.
func (e *e2eSetup) deleteTopics(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.s.Brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return
	}
	var mine []string
	for _, name := range td.Names() {
		if strings.HasPrefix(name, e.prefix) { // any delimiter; the prefix is unique
			mine = append(mine, name)
		}
	}
	if len(mine) > 0 {
		_, _ = adm.DeleteTopics(ctx, mine...)
	}
}

// decoder returns a serde.Decoder on the stack's registry.
func (e *e2eSetup) decoder(t *testing.T) *serde.Decoder {
	t.Helper()
	reg, err := serde.NewRegistryClient(serde.RegistryConfig{URL: e.s.RegistryURL, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return serde.NewDecoder(reg, serde.DecoderOptions{})
}

// waitCaughtUp waits until every shard's committed position is its server's
// current one: every change written so far is in Kafka.
func (p *inProcessDaemon) waitCaughtUp(t *testing.T, dbs map[int]*sqlDB) {
	t.Helper()
	for i, db := range dbs {
		var gtid string
		if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
			t.Fatal(err)
		}
		shard := fmt.Sprintf("shard%d", i+1)
		eventually(t, 2*time.Minute, shard+" caught up", func() error {
			if st := p.status(t, shard); st.CommittedPosition != "mariadb gtid "+gtid {
				return fmt.Errorf("committed %q, server at %q", st.CommittedPosition, gtid)
			}
			return nil
		})
	}
}

// waitCommittedPast waits until the shard's committed position includes
// every transaction db's server had logged when it was called, while
// writes may go on (waitCaughtUp wants the two equal, which a running
// workload never lets them be). MariaDB GTIDs of one domain and server.
func (p *inProcessDaemon) waitCommittedPast(t *testing.T, shard string, db *sqlDB) {
	t.Helper()
	var gtid string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	seq := func(g string) int64 {
		n, _ := strconv.ParseInt(g[strings.LastIndex(g, "-")+1:], 10, 64)
		return n
	}
	want := seq(gtid)
	eventually(t, 2*time.Minute, shard+" committed past "+gtid, func() error {
		if st := p.status(t, shard); seq(st.CommittedPosition) < want {
			return fmt.Errorf("committed %q, wait for %q", st.CommittedPosition, gtid)
		}
		return nil
	})
}

// cliCommand runs the tidemark binary as a CLI, with this process's
// environment.
func cliCommand(bin string, args ...string) *osexec.Cmd {
	c := osexec.Command(bin, args...)
	c.Env = os.Environ()
	return c
}
