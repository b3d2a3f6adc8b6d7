package integration

// Operating the daemon: bad input yields clear errors, the admin endpoints,
// SIGTERM drains, `tidemark tail` decodes.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// runCLI runs the tidemark binary to completion and returns its exit code and
// combined output.
func runCLI(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := osexec.CommandContext(ctx, tidemarkBinary(t), args...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("tidemark %v did not finish within %s:\n%s", args, timeout, out)
	}
	var exit *osexec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestDaemonBadInput(t *testing.T) {
	s := stackEnv(t)

	t.Run("unknown config key names file, line and key", func(t *testing.T) {
		e := newE2E(t, s)
		cfg := strings.Replace(e.config([]int{0}, ""), "    server_id:", "    sever_port: 1\n    server_id:", 1)
		path := writeConfig(t, cfg)
		line := 1 + strings.Count(cfg[:strings.Index(cfg, "sever_port")], "\n")
		code, out := runCLI(t, time.Minute, "run", "-c", path)
		want := fmt.Sprintf("%s:%d: shards[0].sever_port: unknown key", path, line)
		if code != 2 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, output:\n%s\nwant exit 2 and %q", code, out, want)
		}
	})

	t.Run("wrong password names shard and user, never the password", func(t *testing.T) {
		e := newE2E(t, s)
		t.Setenv("IT_WRONG_PASSWORD", "not-the-password-4711")
		cfg := strings.Replace(e.config([]int{0}, ""), "password_env: TIDEMARK_MYSQL_PASSWORD", "password_env: IT_WRONG_PASSWORD", 1)
		code, out := runCLI(t, 2*time.Minute, "run", "-c", writeConfig(t, cfg))
		if code != 1 || !strings.Contains(out, "shard1") || !strings.Contains(out, s.User) ||
			!strings.Contains(strings.ToLower(out), "access denied") || !strings.Contains(out, "error_class=access_denied") {
			t.Fatalf("exit %d, output:\n%s\nwant exit 1 naming shard1, user %s, access denied", code, out, s.User)
		}
		if strings.Contains(out, "not-the-password-4711") {
			t.Fatalf("the password appears in the output:\n%s", out)
		}
	})

	t.Run("unreachable broker is retried and reported", func(t *testing.T) {
		e := newE2E(t, s)
		cfg := strings.Replace(e.config([]int{0}, ""), "brokers: ["+strings.Join(s.Brokers, ", ")+"]", "brokers: [127.0.0.1:1]", 1)
		d := startDaemon(t, cfg)
		var st daemon.ShardStatus
		eventually(t, time.Minute, "shard retrying with the broker named", func() error {
			st = d.d.Status()[0]
			if st.Restarts < 1 || st.LastErrorClass != "kafka_unreachable" || !strings.Contains(st.LastError, "127.0.0.1:1") {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
		if st.State == daemon.StateFailed {
			t.Fatalf("an unreachable broker is retryable, but the shard failed: %+v", st)
		}
		_, metrics, err := httpGet("http://" + d.d.AdminAddr() + "/metrics")
		if err != nil || !strings.Contains(metrics, `tidemark_shard_errors_total{class="kafka_unreachable",shard="shard1"}`) {
			t.Fatalf("metrics lack the error class (err %v)", err)
		}
	})

	t.Run("unsupported column type names shard, table and column", func(t *testing.T) {
		e := newE2E(t, s)
		dbs := e.createShardDBs(t, 0)
		exec(t, dbs[0].DB, "CREATE TABLE "+dbs[0].name+".odd (id INT PRIMARY KEY, c VARCHAR(10) CHARACTER SET armscii8)")
		p := startProcess(t, writeConfig(t, e.config([]int{0}, "")))
		waitProcessStreaming(t, p, 1)
		exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".odd VALUES (1, 'x')")
		select {
		case <-p.done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("daemon still running after an unsupported column type:\n%s", p.output())
		}
		out := p.output()
		want := fmt.Sprintf("shard shard1 table %s.odd column c", dbs[0].name)
		if !strings.Contains(out, want) || !strings.Contains(out, "error_class=schema") {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	})

	t.Run("table without primary key names the table", func(t *testing.T) {
		e := newE2E(t, s)
		dbs := e.createShardDBs(t, 0)
		exec(t, dbs[0].DB, "CREATE TABLE "+dbs[0].name+".nokey (a INT, b TEXT)")
		d := startDaemon(t, e.config([]int{0}, ""))
		d.waitStreaming(t)
		exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".nokey VALUES (1, 'x')")
		eventually(t, time.Minute, "shard failed on the keyless table", func() error {
			st := d.d.Status()[0]
			if st.State != daemon.StateFailed || !strings.Contains(st.LastError, dbs[0].name+".nokey") ||
				!strings.Contains(st.LastError, "no primary key") {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	})
}

// The admin endpoint: liveness, readiness, status without secrets, and the
// Prometheus series of every stage labelled by shard.
func TestDaemonAdminEndpoints(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	// A user of its own, with a password that cannot occur by chance in
	// what the endpoints serve.
	cfg, _, password := e.withOwnUser(t, dbs[0].DB, e.config([]int{0}, ""))
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	w := newWorkload(dbs[0].DB, dbs[0].name, 0)
	if err := w.run(context.Background(), 50); err != nil {
		t.Fatal(err)
	}
	e.waitFinalState(t, dbs, time.Minute)
	base := "http://" + d.d.AdminAddr()

	if code, body, err := httpGet(base + "/healthz"); err != nil || code != 200 {
		t.Errorf("/healthz: %d %v %s", code, err, body)
	}
	if code, body, err := httpGet(base + "/readyz"); err != nil || code != 200 {
		t.Errorf("/readyz: %d %v %s", code, err, body)
	}
	var status struct {
		Version string               `json:"version"`
		Shards  []daemon.ShardStatus `json:"shards"`
	}
	eventually(t, 30*time.Second, "/status shows a committed position", func() error {
		_, body, err := httpGet(base + "/status")
		if err != nil {
			return err
		}
		if strings.Contains(body, password) {
			t.Fatalf("/status contains the password:\n%s", body)
		}
		if err := json.Unmarshal([]byte(body), &status); err != nil {
			return err
		}
		if len(status.Shards) != 1 || !strings.HasPrefix(status.Shards[0].CommittedPosition, "mariadb gtid ") ||
			status.Shards[0].EventsRead == 0 {
			return fmt.Errorf("status %s", body)
		}
		return nil
	})
	_, metrics, err := httpGet(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, series := range []string{
		`tidemark_shard_up{shard="shard1"} 1`,
		`tidemark_binlog_events_total{op="c",shard="shard1"}`,
		`tidemark_binlog_read_bytes_total{shard="shard1"}`,
		`tidemark_binlog_source_lag_seconds{shard="shard1"}`,
		`tidemark_router_records_produced_total{shard="shard1"}`,
		`tidemark_router_commit_to_ack_seconds_bucket{shard="shard1",le="0.1"}`,
		`tidemark_binlog_reconnects_total{shard="shard1"}`,
		`tidemark_queue_bytes{shard="shard1"}`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if strings.Contains(metrics, password) {
		t.Errorf("/metrics contains the password")
	}
}

// SIGTERM drains and commits: the process exits 0, and the restarted daemon
// resumes from the committed position; the final state is the source's.
func TestDaemonSigtermDrains(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	cfg := writeConfig(t, e.config([]int{0}, ""))
	p := startProcess(t, cfg)
	waitProcessStreaming(t, p, 1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := runWorkloads(ctx, dbs, 0)
	e.waitRecords(t, "accounts", 100)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("no exit within a minute of SIGTERM:\n%s", p.output())
	}
	if p.err != nil || !strings.Contains(p.output(), "tidemark stopped") {
		t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.output())
	}
	p2 := startProcess(t, cfg)
	waitProcessStreaming(t, p2, 1)
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkOrderAndAffinity(recs, 3, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p2.output(), "resuming") {
		t.Errorf("restart did not resume from the committed position:\n%s", p2.output())
	}
}

// `tidemark tail` prints a topic's records decoded to JSON lines.
func TestDaemonTailCommand(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	d := startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)
	exec(t, dbs[0].DB,
		"INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES (7, 'ada@example.com', 1, 12.50)",
		"DELETE FROM "+dbs[0].name+".accounts WHERE id = 7")
	e.waitRecords(t, "accounts", 3) // create, delete and tombstone
	code, out := runCLI(t, time.Minute, "tail", e.topic("accounts"), "--brokers", strings.Join(s.Brokers, ","), "--registry", s.RegistryURL)
	if code != 0 {
		t.Fatalf("tail exit %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("tail printed %d lines, want 3 (c, d, tombstone):\n%s", len(lines), out)
	}
	var first struct {
		Record struct {
			Key   map[string]any `json:"key"`
			Value struct {
				Op    string         `json:"op"`
				After map[string]any `json:"after"`
			} `json:"value"`
		} `json:"record"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if first.Record.Value.Op != "c" || first.Record.Value.After["email"] != "ada@example.com" || first.Record.Value.After["balance"] != "12.50" {
		t.Fatalf("first line %s", lines[0])
	}
}

// withOwnUser creates a CDC user of the test's own (REPLICATION SLAVE,
// REPLICATION CLIENT, SELECT) with a password no output can contain by
// chance, and returns cfg rewritten to use it, the user and the password.
func (e *e2eSetup) withOwnUser(t *testing.T, db *sql.DB, cfg string) (string, string, string) {
	t.Helper()
	user, password := uniqueName("tm"), uniqueName("Secret-Pw")
	exec(t, db, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '%s'@'%%'", user))
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	env := "IT_PW_" + strings.ToUpper(user)
	t.Setenv(env, password)
	cfg = strings.Replace(cfg, "password_env: TIDEMARK_MYSQL_PASSWORD", "password_env: "+env, 1)
	cfg = strings.Replace(cfg, "  user: "+e.s.User+"\n", "  user: "+user+"\n", 1)
	return cfg, user, password
}

// The shard's binlog connection is killed mid-stream: the reader reconnects
// in place (counted in /status and metrics), and the topic holds every row
// change exactly once, in order.
func TestDaemonMySQLReconnect(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	cfg, user, _ := e.withOwnUser(t, dbs[0].DB, e.config([]int{0}, ""))
	d := startDaemon(t, cfg)
	d.waitStreaming(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := runWorkloads(ctx, dbs, 0)
	e.waitRecords(t, "accounts", 100)
	for kill := 0; kill < 3; kill++ { // three times, while rows keep coming
		var id int64
		eventually(t, 30*time.Second, "the daemon's binlog connection", func() error {
			return dbs[0].QueryRow("SELECT id FROM information_schema.PROCESSLIST WHERE user = ? AND command = 'Binlog Dump'", user).Scan(&id)
		})
		exec(t, dbs[0].DB, fmt.Sprintf("KILL CONNECTION %d", id))
		eventually(t, 30*time.Second, "reconnected", func() error {
			if st := d.d.Status()[0]; st.Reconnects < uint64(kill+1) || st.State != daemon.StateStreaming {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	recs := e.waitFinalState(t, dbs, 2*time.Minute)
	if err := checkOrderAndAffinity(recs, 3, false); err != nil {
		t.Fatalf("after 3 killed connections: %v", err)
	}
	if st := d.d.Status()[0]; st.LastErrorClass != "mysql" || st.Restarts != 0 {
		t.Errorf("status %+v: want the lost connection shown, and no pipeline restart", st)
	}
	_, metrics, _ := httpGet("http://" + d.d.AdminAddr() + "/metrics")
	if !strings.Contains(metrics, `tidemark_binlog_reconnects_total{shard="shard1"} 3`) {
		t.Errorf("metrics do not count 3 reconnects")
	}
}

// The Kafka broker is restarted mid-stream: the idempotent producer retries
// through the outage and the topic still holds every row change exactly
// once, in order; the position resumes moving.
func TestDaemonKafkaBrokerRestart(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	d := startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := runWorkloads(ctx, dbs, 0)
	e.waitRecords(t, "accounts", 100)
	out, err := osexec.Command("../stack/stack", "restart", "kafka").CombinedOutput()
	if err != nil {
		t.Fatalf("stack/stack restart kafka: %v\n%s", err, out)
	}
	before := d.d.Status()[0].CommittedPosition
	time.Sleep(time.Second) // rows keep coming after the broker is back
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	recs := e.waitFinalState(t, dbs, 3*time.Minute)
	if err := checkOrderAndAffinity(recs, 3, false); err != nil {
		t.Fatalf("after a broker restart: %v", err)
	}
	eventually(t, time.Minute, "the position moves again", func() error {
		if st := d.d.Status()[0]; st.CommittedPosition == before {
			return fmt.Errorf("committed position still %s", before)
		}
		return nil
	})
	t.Logf("%d records across the broker restart; shard status %+v", len(recs), d.d.Status()[0])
}

// The allow-list decides what is captured: an excluded table gets no topic,
// and its transactions still move the shard's position.
func TestDaemonAllowList(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	exec(t, dbs[0].DB, "CREATE TABLE "+dbs[0].name+".audit_log (id INT PRIMARY KEY, what TEXT)")
	cfg := strings.Replace(e.config([]int{0}, ""), "    - database: '"+e.base+"_shard_*'\n",
		"    - database: '"+e.base+"_shard_*'\n      include: ['acc*', 'audit_*']\n      exclude: ['audit_*']\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES (1, 'a@example.com', 1, 1.00)")
	e.waitRecords(t, "accounts", 1)
	before := d.d.Status()[0].CommittedPosition
	exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".audit_log VALUES (1, 'excluded')")
	eventually(t, 30*time.Second, "position moved past the excluded table's transaction", func() error {
		if st := d.d.Status()[0]; st.CommittedPosition == before {
			return fmt.Errorf("committed position still %s", before)
		}
		return nil
	})
	if e.topicExists(t, e.topic("audit_log")) {
		t.Fatalf("topic %s exists for an excluded table", e.topic("audit_log"))
	}
}

// kafka.sink: discard (the benchmarks' ceiling) encodes every row change and
// produces none: no data topic appears, the discarded records are counted,
// and the position is still stored, so a restart resumes after them.
func TestDaemonDiscardSink(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	cfg := strings.Replace(e.config([]int{0}, ""), "  linger: 2ms\n", "  linger: 2ms\n  sink: discard\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	if err := newWorkload(dbs[0].DB, dbs[0].name, 0).run(context.Background(), 50); err != nil {
		t.Fatal(err)
	}
	var gtid string
	if err := dbs[0].QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "position stored past the workload", func() error {
		if st := d.d.Status()[0]; st.CommittedPosition != "mariadb gtid "+gtid {
			return fmt.Errorf("committed %q, shard at %q", st.CommittedPosition, gtid)
		}
		return nil
	})
	_, metrics, err := httpGet("http://" + d.d.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics, `tidemark_records_discarded_total{shard="shard1"}`) ||
		strings.Contains(metrics, `tidemark_records_discarded_total{shard="shard1"} 0`) {
		t.Errorf("no discarded records counted")
	}
	if e.topicExists(t, e.topic("accounts")) {
		t.Errorf("topic %s exists: the discard sink produced", e.topic("accounts"))
	}
}

// topics.delimiter joins the topic name's parts (Debezium's topic.delimiter).
func TestDaemonTopicDelimiter(t *testing.T) {
	s := stackEnv(t)
	e, dbs := newAccountsE2E(t, s, 0)
	cfg := strings.Replace(e.config([]int{0}, ""), "  prefix: "+e.prefix+"\n", "  prefix: "+e.prefix+"\n  delimiter: _\n", 1)
	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	exec(t, dbs[0].DB, "INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES (1, 'a@example.com', 1, 1.00)")
	topic := e.prefix + "_" + e.base + "_accounts"
	eventually(t, time.Minute, "topic "+topic, func() error {
		if !e.topicExists(t, topic) || len(e.readTopic(t, topic)) != 1 {
			return fmt.Errorf("no record in %s yet", topic)
		}
		return nil
	})
}
