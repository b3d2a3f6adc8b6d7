package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/router"
)

func TestShardHostsConfig(t *testing.T) {
	yaml := strings.Replace(validConfig, "    host: 127.0.0.1\n    port: 13306\n", "    hosts: [127.0.0.1:13306, 'localhost:13406']\n", 1)
	c, err := parseConfig("t.yaml", []byte(yaml), env)
	if err != nil {
		t.Fatalf("hosts rejected:\n%v", err)
	}
	if got := c.Shards[0].Addrs(); strings.Join(got, " ") != "127.0.0.1:13306 localhost:13406" {
		t.Errorf("shard1 addrs %q", got)
	}
	if got := c.Shards[1].Addrs(); strings.Join(got, " ") != "127.0.0.1:13307" {
		t.Errorf("shard2 addrs %q (host and port)", got)
	}
	cases := []struct{ name, hosts, want string }{
		{"both", "    host: 127.0.0.1\n    hosts: [127.0.0.1:13306]\n", "t.yaml:22: shards[0].hosts: give either host and port or hosts, not both"},
		{"no port", "    hosts: [127.0.0.1:13306, replica]\n", `t.yaml:21: shards[0].hosts[1]: want host:port, got "replica"`},
		{"bad port", "    hosts:\n      - 127.0.0.1:13306\n      - 127.0.0.1:0\n", `t.yaml:23: shards[0].hosts[1]: port must be 1..65535, got "0"`},
		{"twice", "    hosts: [127.0.0.1:13306, 127.0.0.1:13306]\n", "t.yaml:21: shards[0].hosts[1]: 127.0.0.1:13306 is also shards[0].hosts[0]"},
		{"empty", "    hosts: []\n", "t.yaml:20: shards[0].host: required (or hosts"},
	}
	for _, tc := range cases {
		src := strings.Replace(validConfig, "    host: 127.0.0.1\n    port: 13306\n", tc.hosts, 1)
		_, err := parseConfig("t.yaml", []byte(src), env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error\n%v\nwant it to contain\n%s", tc.name, err, tc.want)
		}
	}
}

// The next lifetime uses the next host after a failure of the host, and
// only then: Kafka's failures, and the server's terminal answers, keep it.
func TestFailoverMovesToTheNextHost(t *testing.T) {
	conn := func(err error) error {
		return inStage(stageBinlog, &binlog.ConnectionError{Err: fmt.Errorf("binlog: shard s: read binlog: %w", err)})
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name  string
		err   error
		moves bool
	}{
		{"connection refused", conn(refused), true},
		{"check cannot connect", inStage(stageBinlog, fmt.Errorf("binlog: shard s: check prerequisites: connect: %w", refused)), true},
		{"replica behind", inStage(stageBinlog, mysql.Mark(binlog.ErrHostBehind, errors.New("has not yet logged 1-1-9"))), true},
		{"too many connections", conn(fmt.Errorf("x: %w", gomysql.NewError(gomysql.ER_CON_COUNT_ERROR, "Too many connections"))), true},
		{"access denied", conn(fmt.Errorf("x: %w", mysql.ErrAccessDenied)), false},
		{"position lost", conn(fmt.Errorf("x: %w", mysql.ErrPositionLost)), false},
		{"prerequisites", inStage(stageBinlog, &binlog.PrerequisiteError{Shard: "s", Problems: []string{"binlog_format"}}), false},
		{"kafka unreachable", inStage(stageKafka, &router.UnreachableError{Err: refused}), false},
		{"kafka network", inStage(stageKafka, fmt.Errorf("produce: %w", refused)), false},
	}
	for _, tt := range tests {
		m := NewMetrics(prometheus.NewRegistry())
		p := &pipeline{shard: "s", log: slog.New(slog.DiscardHandler), metrics: m, tracker: newShardTracker("s"),
			hosts: []shardHost{{addr: "primary:3306"}, {addr: "replica:3307"}}}
		p.failover(tt.err)
		addr, _ := p.currentHost()
		if moved := addr == "replica:3307"; moved != tt.moves {
			t.Errorf("%s (class %s): on %s, want moved=%t", tt.name, Classify(tt.err).Name, addr, tt.moves)
		}
		want := 0.0
		if tt.moves {
			want = 1
			if st := p.tracker.snapshot(); st.Failovers != 1 {
				t.Errorf("%s: status failovers %d", tt.name, st.Failovers)
			}
			p.failover(tt.err) // and round again, to the first
			if addr, _ := p.currentHost(); addr != "primary:3306" {
				t.Errorf("%s: second failover to %s, want back to the first host", tt.name, addr)
			}
			want = 2
		}
		if got := testutil.ToFloat64(m.failovers.WithLabelValues("s")); got != want {
			t.Errorf("%s: tidemark_shard_failovers_total %g, want %g", tt.name, got, want)
		}
	}
	// One host: nothing to move to.
	p := &pipeline{shard: "s", log: slog.New(slog.DiscardHandler), metrics: NewMetrics(prometheus.NewRegistry()), tracker: newShardTracker("s"),
		hosts: []shardHost{{addr: "primary:3306"}}}
	p.failover(conn(refused))
	if got := testutil.ToFloat64(p.metrics.failovers.WithLabelValues("s")); got != 0 {
		t.Errorf("one host: %g failovers", got)
	}
}
