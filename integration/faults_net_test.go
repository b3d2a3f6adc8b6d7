package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Network faults (issue 11) between Tidemark and its shards' MariaDB and
// between Tidemark and Kafka, injected with toxiproxy run as a library in
// the test process: latency with jitter, a bandwidth limit, connections
// reset, and a timeout (data stops, the connection closes later), each for
// TIDEMARK_FAULT_NET_SECONDS (3 by default) mid-stream, then removed; after
// each, every (shard, GTID, row) is in Kafka exactly once and tidemark
// verify finds no difference. TIDEMARK_FAULT_ROUNDS repeats the series.
//
// The MariaDB proxies listen on random ports. Kafka's cannot: a client asks
// the broker for its address (metadata) and then connects to the advertised
// one, which would bypass a proxy in front of the seed address. The stack's
// broker has a PROXIED listener (TIDEMARK_KAFKA_PROXY_UPSTREAM) that
// advertises TIDEMARK_KAFKA_PROXY_LISTEN, where this test's proxy listens:
// every broker connection of the daemon, the transaction and group
// coordinators' too, goes through it. The registry and the test's own
// consumers and writers use the stack directly.

// netProxies is the test's toxiproxy server and its proxies by name.
type netProxies struct {
	srv     *toxiproxy.ApiServer
	proxies map[string]*toxiproxy.Proxy
}

func startToxiproxy(t *testing.T) *netProxies {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	t.Cleanup(func() { _ = srv.Collection.Clear() })
	return &netProxies{srv: srv, proxies: map[string]*toxiproxy.Proxy{}}
}

// add starts a proxy on listen (127.0.0.1:0: a random port) to upstream and
// returns its address.
func (n *netProxies) add(t *testing.T, name, listen, upstream string) string {
	t.Helper()
	p := toxiproxy.NewProxy(n.srv, name, listen, upstream)
	if err := n.srv.Collection.Add(p, true); err != nil {
		t.Fatalf("toxiproxy %s on %s → %s: %v", name, listen, upstream, err)
	}
	n.proxies[name] = p
	return p.Listen
}

// toxic is one kind of fault, as toxiproxy's JSON describes it.
type toxic struct {
	name, kind, stream string
	attrs              string // JSON object
}

// netToxics are the faults of the series. Bandwidth is limited where the
// bulk flows: the binlog comes down from MariaDB, records go up to Kafka.
func netToxics(target string) []toxic {
	bulk := "downstream"
	if target == "kafka" {
		bulk = "upstream"
	}
	return []toxic{
		{"latency", "latency", "downstream", `{"latency": 300, "jitter": 200}`},
		{"bandwidth", "bandwidth", bulk, `{"rate": 16}`}, // KB/s
		{"reset_peer", "reset_peer", "downstream", `{"timeout": 500}`},
		{"timeout", "timeout", "downstream", `{"timeout": 2000}`},
	}
}

// inject adds the toxic to every proxy of the target (names starting with
// it) and returns what removes it again.
func (n *netProxies) inject(t *testing.T, target string, x toxic) (remove func()) {
	t.Helper()
	var on []*toxiproxy.Proxy
	for name, p := range n.proxies {
		if strings.HasPrefix(name, target) {
			body := fmt.Sprintf(`{"name": %q, "type": %q, "stream": %q, "toxicity": 1, "attributes": %s}`, x.name, x.kind, x.stream, x.attrs)
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
				t.Fatalf("add toxic %s to %s: %v", body, name, err)
			}
			on = append(on, p)
		}
	}
	return func() {
		for _, p := range on {
			if err := p.Toxics.RemoveToxic(context.Background(), x.name); err != nil {
				t.Errorf("remove toxic %s from %s: %v", x.name, p.Name, err)
			}
		}
	}
}

// Latency, bandwidth limits, resets and timeouts on the daemon's
// connections to both shards, then on its connections to Kafka, while the
// ledger workload runs on both shards: after each fault every committed row
// is in Kafka exactly once and verify agrees.
func TestFaultNetwork(t *testing.T) {
	restoreStack(t)
	s := stackEnv(t)
	kafkaListen, kafkaUpstream := os.Getenv("TIDEMARK_KAFKA_PROXY_LISTEN"), os.Getenv("TIDEMARK_KAFKA_PROXY_UPSTREAM")
	if kafkaListen == "" || kafkaUpstream == "" {
		unavailable(t, "TIDEMARK_KAFKA_PROXY_LISTEN/UPSTREAM not set; run: eval \"$(stack/stack env)\"")
	}
	if c, err := net.DialTimeout("tcp", kafkaUpstream, 2*time.Second); err != nil {
		unavailable(t, "Kafka's PROXIED listener %s is not reachable (%v); run: stack/stack restart kafka", kafkaUpstream, err)
	} else {
		c.Close()
	}
	n := startToxiproxy(t)
	proxied := *s
	proxied.Shards = nil
	for i, addr := range s.Shards[:2] {
		proxied.Shards = append(proxied.Shards, n.add(t, fmt.Sprintf("mysql-shard%d", i+1), "127.0.0.1:0", addr))
	}
	proxied.Brokers = []string{n.add(t, "kafka", kafkaListen, kafkaUpstream)}
	window := time.Duration(envInt("TIDEMARK_FAULT_NET_SECONDS", 3)) * time.Second
	rounds := envInt("TIDEMARK_FAULT_ROUNDS", 1)

	var direct string
	r := startFaultRun(t, "", func(e *e2eSetup, _ map[int]*sqlDB) string {
		direct = e.config([]int{0, 1}, "") // verify's: straight to the stack
		pe := *e
		pe.s = &proxied
		return pe.config([]int{0, 1}, "")
	})
	r.yaml = direct
	faults, checked := 0, 0
	classes := map[string]int{}
	for round := range rounds {
		for _, target := range []string{"mysql", "kafka"} {
			for _, x := range netToxics(target) {
				r.waitTxns(t, 30)
				before := map[string]uint64{}
				for _, st := range r.d.d.Status() {
					before[st.Shard] = st.Reconnects + st.Restarts
				}
				stopWatch := r.watch()
				remove := n.inject(t, target, x)
				faults++
				time.Sleep(window)
				remove()
				r.d.waitStreaming(t)
				stopWatch()
				var shown []string
				for _, st := range r.d.d.Status() {
					if st.LastErrorClass != "" {
						classes[st.LastErrorClass]++
					}
					shown = append(shown, fmt.Sprintf("%s: class %q, +%d reconnects/restarts", st.Shard,
						st.LastErrorClass, st.Reconnects+st.Restarts-before[st.Shard]))
				}
				// After each fault: the workload stops, every row is in Kafka
				// exactly once, verify agrees; then it goes on with new ids.
				if err := r.stop(); err != nil {
					t.Fatalf("workload: %v", err)
				}
				checked = waitExactlyOnce(t, r.e, r.l)
				verifyAgrees(t, direct)
				t.Logf("round %d, %s %s %s for %s: %d ids exactly once, verify OK; %s",
					round+1, target, x.name, x.attrs, window, checked, strings.Join(shown, "; "))
				r.mu.Lock()
				r.seen = map[string]int{}
				r.mu.Unlock()
				r.stop = r.startWrites(r.dbs)
			}
		}
	}
	r.finish(t)
	var cl []string
	for c, k := range classes {
		cl = append(cl, fmt.Sprintf("%s ×%d", c, k))
	}
	sort.Strings(cl)
	t.Logf("%d network faults injected; error classes in /status after them: %s; errors: %s",
		faults, strings.Join(cl, ", "), grepLines(r.metrics(t), "tidemark_shard_errors_total{"))
}
