package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// mysqlCAFile is the CA that signed every shard's certificate (stack/stack
// gives each shard TLS, SAN 127.0.0.1 and localhost).
func mysqlCAFile(t *testing.T) string {
	t.Helper()
	ca := os.Getenv("TIDEMARK_MYSQL_CA_FILE")
	if ca == "" {
		unavailable(t, "TIDEMARK_MYSQL_CA_FILE not set; run: eval \"$(stack/stack env)\"")
	}
	return ca
}

// tlsOnlyUser creates a CDC user that MariaDB lets in over TLS only
// (REQUIRE SSL), on every given shard, and rewrites cfg to use it.
func (e *e2eSetup) tlsOnlyUser(t *testing.T, dbs map[int]*sqlDB, cfg string) string {
	t.Helper()
	user, password := uniqueName("tls"), uniqueName("Tls-Pw")
	for _, db := range dbs {
		exec(t, db.DB, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' REQUIRE SSL", user, password),
			fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '%s'@'%%'", user))
		t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	}
	t.Setenv("IT_TLS_PW", password)
	cfg = strings.Replace(cfg, "password_env: TIDEMARK_MYSQL_PASSWORD", "password_env: IT_TLS_PW", 1)
	return strings.Replace(cfg, "  user: "+e.s.User+"\n", "  user: "+user+"\n", 1)
}

// Both shards stream over TLS that verifies the server's certificate, with
// server_name unset: it defaults to each shard's host, one given as
// 127.0.0.1 (an IP SAN), the other as localhost (a DNS SAN). The user
// REQUIRE SSL proves the SQL and the binlog connection both use TLS.
func TestDaemonMySQLTLSVerifiesTheShardsHost(t *testing.T) {
	s := stackEnv(t)
	if len(s.Shards) < 2 {
		t.Fatal("needs two shards")
	}
	ca := mysqlCAFile(t)
	e, dbs := newAccountsE2E(t, s, 0, 1)
	cfg := e.config([]int{0, 1}, "")
	cfg = strings.Replace(cfg, "  heartbeat_period: 500ms\n", "  heartbeat_period: 500ms\n  tls:\n    enabled: true\n    ca_file: "+ca+"\n", 1)
	host2, _, _ := strings.Cut(s.Shards[1], ":")
	if host2 != "127.0.0.1" {
		t.Fatalf("shard2 at %s: the test expects the stack on 127.0.0.1", s.Shards[1])
	}
	cfg = strings.Replace(cfg, "  - name: shard2\n    host: 127.0.0.1\n", "  - name: shard2\n    host: localhost\n", 1)
	cfg = e.tlsOnlyUser(t, dbs, cfg)

	d := startDaemon(t, cfg)
	d.waitStreaming(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runWorkloads(ctx, dbs, 40).Wait(); err != nil {
		t.Fatal(err)
	}
	recs := e.waitFinalState(t, dbs, time.Minute)
	if err := checkOrderAndAffinity(recs, 3, false); err != nil {
		t.Fatal(err)
	}
}

// A wrong server_name is a terminal error that says why, not a retry loop.
func TestDaemonMySQLTLSWrongServerNameIsTerminal(t *testing.T) {
	s := stackEnv(t)
	ca := mysqlCAFile(t)
	e := newE2E(t, s)
	cfg := e.config([]int{0}, "")
	cfg = strings.Replace(cfg, "  heartbeat_period: 500ms\n",
		"  heartbeat_period: 500ms\n  tls:\n    enabled: true\n    ca_file: "+ca+"\n    server_name: db.wrong.example\n", 1)
	d := startDaemon(t, cfg)
	var st daemon.ShardStatus
	eventually(t, time.Minute, "shard failed on the certificate", func() error {
		st = d.d.Status()[0]
		if st.State != daemon.StateFailed {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	if st.LastErrorClass != "tls" || st.Restarts != 0 || !strings.Contains(st.LastError, "db.wrong.example") ||
		!strings.Contains(st.LastError, "certificate") {
		t.Fatalf("status %+v: want class tls, no restart, an error naming the certificate and db.wrong.example", st)
	}
}
