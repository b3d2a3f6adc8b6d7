package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// tidemark runs `bin/tidemark run -c FILE` for one shard and the bench
// table. The discard variant encodes everything and produces nothing
// (kafka.sink: discard): the ceiling of binlog read + decode + encode.
type tidemark struct {
	discard     bool
	exactlyOnce bool // tidemark-eo: kafka.delivery exactly_once (the others: at_least_once)
	bin         string
	shardHost   string
	shardPort   int
	passwordEnv string // names the variable holding the password, never the password
	brokers     []string
	registryURL string
	adminAddr   string
	database    string
	table       string
	stateDir    string
	logDir      string

	dec recordDecoder
	ka  *kafkaAdmin

	// snap, when set, makes this the snapshot scenario's variant: it also
	// captures the snapshot table and sets the shard's snapshot keys.
	snap *tmSnap
	// large, when set, makes this a large-record scenario's variant: it
	// also captures the variant's docs table, with the claim-check on.
	large *tmLarge
}

// tmLarge is a Tidemark variant of the large-record scenario (issue 10).
type tmLarge struct {
	variant   string // tidemark-small, tidemark-large, tidemark-40mb
	table     string // the variant's docs table, captured beside the bench table
	store     string // large_records.store: gs://bucket on the stack's emulator
	secretEnv string // large_records.secret_env: names the variable
	secret    string // its value: in the daemon's environment only, never in its config or a log
}

// tmSnap is a Tidemark variant of the snapshot scenario.
type tmSnap struct {
	variant string   // the variant's name: tidemark, tidemark-unpaced
	table   string   // the snapshot table, captured beside the bench table
	keys    []string // defaults.snapshot keys, "key: value" (none: the daemon's defaults)
	pprof   bool     // serve /debug/pprof/ on the admin endpoint (loopback, no token)
}

const tidemarkShard = "shard1"

func (t *tidemark) name() string {
	if t.snap != nil {
		return t.snap.variant
	}
	if t.large != nil {
		return t.large.variant
	}
	if t.discard {
		return "tidemark-discard"
	}
	if t.exactlyOnce {
		return "tidemark-eo"
	}
	return "tidemark"
}
func (t *tidemark) system() string         { return "tidemark" }
func (t *tidemark) decoder() recordDecoder { return t.dec }

// topic is Tidemark's default naming: <prefix>.<database>.<table>.
func (t *tidemark) topic() string {
	if t.discard {
		return ""
	}
	return t.topicPrefix() + "." + t.database + "." + t.table
}
func (t *tidemark) topicPrefix() string {
	if t.exactlyOnce { // its own topic: the variants' topics are created side by side
		return "benchtmeo"
	}
	return "benchtm"
}

func (t *tidemark) positionsTopic(key string) string {
	return stateTopicPrefix + t.name() + "." + key + ".positions"
}

func (t *tidemark) start(ctx context.Context, key string) (*process, error) {
	dir := filepath.Join(t.stateDir, t.name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "tidemark-"+key+".yaml")
	if err := os.WriteFile(cfg, []byte(t.config(key)), 0o644); err != nil {
		return nil, err
	}
	var env []string
	if t.large != nil {
		env = append(env, t.large.secretEnv+"="+t.large.secret)
	}
	return startProcess(t.name(), filepath.Join(t.logDir, t.name()+"-"+key+".log"), env, t.bin, "run", "-c", cfg)
}

// config is the daemon's YAML for this run; the password stays in the
// environment variable it names.
func (t *tidemark) config(key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by the benchmark harness (bench/tidemark.go) for one run.\n")
	if t.snap != nil && t.snap.pprof {
		fmt.Fprintf(&b, "admin: {listen: %q, pprof: true}\n", t.adminAddr)
	} else {
		fmt.Fprintf(&b, "admin: {listen: %q}\n", t.adminAddr)
	}
	fmt.Fprintf(&b, "kafka:\n  brokers: [%s]\n  positions_topic: %s\n", quoteList(t.brokers), t.positionsTopic(key))
	if t.discard {
		fmt.Fprintf(&b, "  sink: discard\n")
	}
	// tidemark runs at least once, the mode of its earlier figures (and
	// Debezium's); tidemark-eo the daemon's default, exactly once, for its cost.
	if t.exactlyOnce {
		fmt.Fprintf(&b, "  delivery: exactly_once\n")
	} else {
		fmt.Fprintf(&b, "  delivery: at_least_once\n")
	}
	fmt.Fprintf(&b, "registry: {url: %q}\n", t.registryURL)
	if t.large != nil {
		// The threshold is the daemon's default: the topic's limit less 16 KiB.
		fmt.Fprintf(&b, "large_records:\n  store: %q\n  secret_env: %s\n", t.large.store, t.large.secretEnv)
	}
	fmt.Fprintf(&b, "topics:\n  prefix: %s\n  partitions: %d\n  replication_factor: 1\n", t.topicPrefix(), benchPartitions)
	// start: current: a shard without a stored position streams from the
	// server's current position (the daemon's default, start: snapshot,
	// would first snapshot the bench table at every fresh start). The
	// snapshot scenario triggers its snapshot over the admin API.
	fmt.Fprintf(&b, "defaults:\n  user: tidemark\n  password_env: %s\n  flavor: mariadb\n  start: current\n", t.passwordEnv)
	include := []string{t.table}
	if t.large != nil {
		include = append(include, t.large.table)
	}
	if t.snap != nil {
		include = append(include, t.snap.table)
		if len(t.snap.keys) > 0 {
			fmt.Fprintf(&b, "  snapshot:\n")
			for _, kv := range t.snap.keys {
				fmt.Fprintf(&b, "    %s\n", kv)
			}
		}
	}
	fmt.Fprintf(&b, "shards:\n  - name: %s\n    host: %s\n    port: %d\n    server_id: 4101\n", tidemarkShard, t.shardHost, t.shardPort)
	fmt.Fprintf(&b, "    tables:\n      - database: %s\n        include: [%s]\n", t.database, quoteList(include))
	return b.String()
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// shardStatus is the part of /status the bench reads.
type shardStatus struct {
	Shard      string `json:"shard"`
	State      string `json:"state"`
	EventsRead int64  `json:"events_read"`
	LastError  string `json:"last_error"`
}

func (t *tidemark) status(ctx context.Context) (*shardStatus, error) {
	body, err := t.get(ctx, "/status")
	if err != nil {
		return nil, err
	}
	var st struct {
		Shards []shardStatus `json:"shards"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("tidemark /status: %w", err)
	}
	for i := range st.Shards {
		if st.Shards[i].Shard == tidemarkShard {
			return &st.Shards[i], nil
		}
	}
	return nil, fmt.Errorf("tidemark /status lists no shard %s", tidemarkShard)
}

func (t *tidemark) check(ctx context.Context) error {
	st, err := t.status(ctx)
	if err != nil {
		return nil // admin endpoint not up yet
	}
	if st.State == "failed" {
		return fmt.Errorf("tidemark: shard %s failed: %s", st.Shard, st.LastError)
	}
	return nil
}

// progress is the data topic's end offsets; for the discard variant, the
// records the process has encoded and dropped (the shard's
// tidemark_records_discarded_total), or /status events_read if the daemon
// exports no such series.
func (t *tidemark) progress(ctx context.Context) (int64, error) {
	if t.exactlyOnce {
		// End offsets count transaction markers too: the records in
		// committed transactions are what read_committed consumers see.
		body, err := t.get(ctx, "/metrics")
		if err != nil {
			return 0, err
		}
		n, _ := promSum(string(body), "tidemark_router_records_committed_total", `shard="`+tidemarkShard+`"`)
		return n, nil
	}
	if !t.discard {
		return t.ka.endOffsets(ctx, t.topic())
	}
	if body, err := t.get(ctx, "/metrics"); err == nil {
		if n, ok := promSum(string(body), "tidemark_records_discarded_total", `shard="`+tidemarkShard+`"`); ok {
			return n, nil
		}
	}
	st, err := t.status(ctx)
	if err != nil {
		return 0, err
	}
	return st.EventsRead, nil
}

func (t *tidemark) get(ctx context.Context, path string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, "http://"+t.adminAddr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tidemark %s: HTTP %d", path, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// promSum adds the values of every sample of metric whose labels contain
// label (Prometheus text format), and reports whether there was one.
func promSum(text, metric, label string) (int64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(metric):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // another metric sharing the prefix
		}
		if label != "" && !strings.Contains(rest, label) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return int64(sum), found
}
