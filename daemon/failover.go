package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/tidemark-cdc/tidemark/binlog"
)

// A shard with several hosts (shards[].hosts: its primary, then replicas)
// streams from one at a time. Each pipeline lifetime is bound to one host:
// its prerequisite check, binlog reader and snapshot connections all read
// that server, so that snapshot watermarks and the stream agree. When a
// lifetime fails because of its host (unreachable, a lost connection that
// one reconnect did not cure, a replica behind the position), the next
// lifetime uses the next host in the list, after the supervisor's backoff,
// from the last committed position: a GTID set, valid on every server that
// has its transactions. A WARN, tidemark_shard_failovers_total and /status
// (host, failovers) say so. A replica behind the position is waited for
// (binlog.ErrHostBehind), never streamed from past it; a position without
// GTIDs is refused on another server (binlog.ErrPositionNotPortable).

// shardHost is one of a shard's servers.
type shardHost struct {
	addr string      // host:port
	tls  *tls.Config // verified against the host's name by default
}

func shardHosts(sc *ShardConfig) ([]shardHost, error) {
	var out []shardHost
	for _, addr := range sc.Addrs() {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", addr, err)
		}
		t, err := sc.TLS.build(host) // the certificate is verified against this host's name
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		out = append(out, shardHost{addr: addr, tls: t})
	}
	if len(out) == 0 {
		return nil, errors.New("no host")
	}
	return out, nil
}

// currentHost is the server the shard streams from (or will, next lifetime).
func (p *pipeline) currentHost() (string, *tls.Config) {
	h := p.hosts[int(p.host.Load())%len(p.hosts)]
	return h.addr, h.tls
}

// failover moves the shard to its next host when a lifetime ended because
// of the one it used.
func (p *pipeline) failover(err error) {
	if len(p.hosts) < 2 || !hostFailure(err) {
		return
	}
	from := int(p.host.Load()) % len(p.hosts)
	to := (from + 1) % len(p.hosts)
	p.host.Store(int32(to))
	p.metrics.failovers.WithLabelValues(p.shard).Inc()
	p.tracker.failedOver()
	// The error itself is the supervisor's to log.
	p.log.Warn("the shard's host failed; its next start uses the next host, from the last committed position",
		"host", p.hosts[from].addr, "next_host", p.hosts[to].addr, "class", Classify(err).Name)
}

// hostFailure reports whether a lifetime failed because of its server
// rather than because of Kafka, the registry, a bug or a setting: the
// binlog connection or the prerequisite check could not reach it (or lost
// it and one reconnect did not help), or it is a replica behind the
// position. Terminal server answers (access denied, a prerequisite, a lost
// position) stop the shard on that host: a misconfigured fallback must be
// loud, not skipped.
func hostFailure(err error) bool {
	if errors.Is(err, binlog.ErrHostBehind) {
		return true
	}
	var se *stageError
	if !errors.As(err, &se) || se.stage != stageBinlog {
		return false
	}
	switch Classify(err).Name {
	case "mysql", "timeout", "network":
		return true
	}
	return false
}
