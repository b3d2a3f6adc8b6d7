package integration

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/go-mysql-org/go-mysql/driver" // database/sql driver "mysql"
)

// Stack is the set of endpoints of the local stack, read from the environment
// that `stack/stack env` prints.
type Stack struct {
	Shards        []string // host:port of each MariaDB shard, shard 1 first
	User          string   // CDC user: REPLICATION SLAVE, REPLICATION CLIENT, SELECT
	Password      string
	AdminUser     string // all privileges: creates test schemas and rows
	AdminPassword string
	Brokers       []string
	SASLBrokers   []string // the same cluster's SASL_SSL listener (TLS + SCRAM)
	KafkaCAFile   string   // the CA that signed the SASL_SSL listener's certificate
	RegistryURL   string   // Confluent-compatible API
	GCSHost       string   // STORAGE_EMULATOR_HOST
}

// stackEnv returns the stack's endpoints, after checking that every part
// accepts TCP connections. It skips the test when the environment is not set,
// and fails it instead under TIDEMARK_REQUIRE_STACK=1.
func stackEnv(t testing.TB) *Stack {
	t.Helper()
	s := &Stack{
		Shards:        splitList(os.Getenv("TIDEMARK_MYSQL_SHARDS")),
		User:          os.Getenv("TIDEMARK_MYSQL_USER"),
		Password:      os.Getenv("TIDEMARK_MYSQL_PASSWORD"),
		AdminUser:     os.Getenv("TIDEMARK_MYSQL_ADMIN_USER"),
		AdminPassword: os.Getenv("TIDEMARK_MYSQL_ADMIN_PASSWORD"),
		Brokers:       splitList(os.Getenv("TIDEMARK_KAFKA_BROKERS")),
		SASLBrokers:   splitList(os.Getenv("TIDEMARK_KAFKA_SASL_SSL_BROKERS")),
		KafkaCAFile:   os.Getenv("TIDEMARK_KAFKA_CA_FILE"),
		RegistryURL:   os.Getenv("TIDEMARK_REGISTRY_URL"),
		GCSHost:       os.Getenv("STORAGE_EMULATOR_HOST"),
	}
	var missing []string
	if len(s.Shards) == 0 || s.User == "" || s.AdminUser == "" {
		missing = append(missing, "TIDEMARK_MYSQL_*")
	}
	if len(s.Brokers) == 0 || len(s.SASLBrokers) == 0 || s.KafkaCAFile == "" {
		missing = append(missing, "TIDEMARK_KAFKA_*")
	}
	if s.RegistryURL == "" {
		missing = append(missing, "TIDEMARK_REGISTRY_URL")
	}
	if s.GCSHost == "" {
		missing = append(missing, "STORAGE_EMULATOR_HOST")
	}
	if len(missing) > 0 {
		unavailable(t, "stack environment not set (%s); run: eval \"$(stack/stack env)\"", strings.Join(missing, ", "))
	}
	addrs := append(append(append([]string{}, s.Shards...), s.Brokers...), s.SASLBrokers...)
	addrs = append(addrs, hostOf(s.RegistryURL), s.GCSHost)
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			unavailable(t, "stack part at %s is not reachable (%v); run: stack/stack up", a, err)
		}
		c.Close()
	}
	return s
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("TIDEMARK_REQUIRE_STACK") == "1" {
		t.Fatalf("TIDEMARK_REQUIRE_STACK=1 but "+format, args...)
	}
	t.Skipf(format, args...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func hostOf(url string) string {
	rest := url[strings.Index(url, "://")+3:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// uniqueName returns prefix plus a random suffix, for databases and topics
// that tests sharing one stack must not collide on.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// adminDB opens database/sql to a shard as the admin user.
func (s *Stack) adminDB(t testing.TB, shard int) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@%s/", s.AdminUser, s.AdminPassword, s.Shards[shard]))
	if err != nil {
		t.Fatalf("open shard %d: %v", shard+1, err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

// exec runs statements on db, failing the test on the first error.
func exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("exec %q: %v", q, err)
		}
	}
}

// createDatabase creates a fresh database on a shard and drops it at cleanup.
func (s *Stack) createDatabase(t testing.TB, shard int, prefix string) (*sql.DB, string) {
	t.Helper()
	db := s.adminDB(t, shard)
	name := uniqueName(prefix)
	exec(t, db, "CREATE DATABASE "+name)
	t.Cleanup(func() { _, _ = db.Exec("DROP DATABASE IF EXISTS " + name) })
	return db, name
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
