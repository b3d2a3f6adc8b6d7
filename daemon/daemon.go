package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
)

// Daemon runs every configured shard's pipeline and the admin endpoint.
type Daemon struct {
	cfg      *Config
	log      *slog.Logger
	version  string
	registry *prometheus.Registry
	metrics  *Metrics
	stages   *stageMetrics
	shards   []*shard
	hooks    Hooks
	moves    *moveChecker // topics.rows_move_between_shards
	// adminToken is the bearer token of admin.token_env ("" = none).
	adminToken string

	mu        sync.Mutex
	adminAddr string // the bound admin address, once listening
}

// shard is one supervised pipeline and its live status.
type shard struct {
	cfg     ShardConfig
	tracker *shardTracker
	sup     *supervisor
}

// Hooks are fault-injection points for tests. Each is called, when set, from
// inside the named stage's goroutine of a running pipeline, so that a test
// can make a real stage of one shard fail (panic, stall) while the others
// run. Production code leaves them unset.
type Hooks struct {
	// Stage is called with the shard and the stage: "start" once per
	// lifetime before the shard loads its stored position, "binlog" before
	// each event the reader hands to the queue, "encode" for each batch the
	// encoder takes, "kafka" for each position the writer commits.
	// "start" is called from the lifetime's own goroutine, where the
	// supervisor recovers a panic like a stage's.
	Stage func(shard, stage string)
}

// Option configures a Daemon beyond its Config.
type Option func(*Daemon)

// WithHooks installs fault-injection hooks (tests only).
func WithHooks(h Hooks) Option { return func(d *Daemon) { d.hooks = h } }

// New builds the daemon from a validated configuration. It reads the
// passwords from the environment variables the configuration names; it
// starts nothing and contacts nothing.
func New(cfg *Config, log *slog.Logger, version string, opts ...Option) (*Daemon, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d := &Daemon{cfg: cfg, log: log, version: version, registry: reg}
	for _, o := range opts {
		o(d)
	}
	if cfg.Admin.TokenEnv != "" {
		d.adminToken = os.Getenv(cfg.Admin.TokenEnv)
	}
	d.metrics = NewMetrics(reg)
	d.stages = newStageMetrics(reg)
	shared, err := newSharedParts(cfg, version)
	if err != nil {
		return nil, err
	}
	var pipelines []*pipeline
	fresh := newFreshShards() // one for the fleet: new shards do not refuse each other
	for _, sc := range cfg.Shards {
		p, err := newPipeline(cfg, sc, shared, d.stages, log)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", sc.Name, err)
		}
		pipelines = append(pipelines, p)
		tr := newShardTracker(sc.Name)
		p.tracker = tr
		p.metrics = d.metrics
		p.hooks = d.hooks
		p.fresh = fresh
		d.shards = append(d.shards, &shard{cfg: sc, tracker: tr, sup: &supervisor{
			shard: sc.Name, log: log, tracker: tr, metrics: d.metrics, run: p.run,
			classify: Classify, minBackoff: time.Second, maxBackoff: time.Minute, stableAfter: 5 * time.Minute,
		}})
	}
	if cfg.Topics.RowsMoveBetweenShards {
		// One checker for the fleet: every shard asks the others (moves.go).
		d.moves = newMoveChecker(pipelines[0].namer, log, reg)
		for _, p := range pipelines {
			d.moves.addShard(p.shard, newTableFilter(p.shardTables), p.readerCfg.ConnConfig())
			p.moves = d.moves
		}
	}
	return d, nil
}

// ErrAllShardsFailed is returned by Run when every shard stopped on a
// terminal error: there is nothing left to run.
var ErrAllShardsFailed = errors.New("every shard stopped on a terminal error")

// Run serves the admin endpoint and runs every shard until ctx is cancelled
// (then drains and commits, and returns nil) or until every shard has failed
// terminally. One shard's failure never stops the others.
func (d *Daemon) Run(ctx context.Context) error {
	if d.moves != nil {
		defer d.moves.close()
	}
	admin := &adminServer{addr: d.cfg.Admin.Listen, log: d.log, gatherer: d.registry, status: d.Status, version: d.version,
		started: time.Now(), token: d.adminToken, pprof: d.cfg.Admin.Pprof}
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	adminErr := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { adminErr <- admin.Run(adminCtx, ready) }()
	select {
	case addr := <-ready:
		d.mu.Lock()
		d.adminAddr = addr
		d.mu.Unlock()
		d.log.Info("tidemark started", "version", d.version, "admin", addr, "shards", len(d.shards))
		for _, w := range d.cfg.Warnings() {
			d.log.Warn("insecure configuration", "key", w.Key, "warning", w.Msg)
		}
	case err := <-adminErr:
		return err
	}

	var g errgroup.Group
	var mu sync.Mutex
	failed := 0
	for _, s := range d.shards {
		g.Go(func() error {
			if err := s.sup.Run(ctx); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	stopAdmin()
	if err := <-adminErr; err != nil {
		d.log.Warn("admin server", "error", err)
	}
	if ctx.Err() == nil && failed == len(d.shards) {
		return ErrAllShardsFailed
	}
	d.log.Info("tidemark stopped")
	return nil
}

// Status is every shard's live status (the /status document).
func (d *Daemon) Status() []ShardStatus {
	out := make([]ShardStatus, 0, len(d.shards))
	for _, s := range d.shards {
		out = append(out, s.tracker.snapshot())
	}
	return out
}

// AdminAddr is the address the admin endpoint listens on ("" before Run has
// bound it); useful with listen port 0.
func (d *Daemon) AdminAddr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.adminAddr
}
