package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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
	large    *largeRecords // the claim-check's store, closed when Run ends
	gc       *gcLoop       // the periodic large-record GC; nil when off
	metrics  *Metrics
	stages   *stageMetrics
	shards   []*shard
	hooks    Hooks
	moves    *moveChecker // topics.rows_move_between_shards

	snapMu       sync.Mutex
	snapRequests map[string]SnapshotRequest // as asked, by id (for status)
	// adminToken is the bearer token of admin.token_env ("" = none).
	adminToken string

	mu        sync.Mutex
	adminAddr string // the bound admin address, once listening
}

// shard is one supervised pipeline and its live status.
type shard struct {
	cfg      ShardConfig
	tracker  *shardTracker
	sup      *supervisor
	pipeline *pipeline
	revive   chan struct{} // restarts a parked shard
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
	d := &Daemon{cfg: cfg, log: log, version: version, registry: reg, snapRequests: map[string]SnapshotRequest{}}
	for _, o := range opts {
		o(d)
	}
	if cfg.Admin.TokenEnv != "" {
		d.adminToken = os.Getenv(cfg.Admin.TokenEnv)
	}
	d.metrics = NewMetrics(reg)
	d.stages = newStageMetrics(reg)
	shared, err := newSharedParts(cfg, version, reg, log)
	d.large = shared.large
	if err != nil {
		return nil, err
	}
	d.gc = newGCLoop(cfg, reg, log)
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
		tr.onHost(p.hosts[0].addr)
		p.metrics = d.metrics
		p.hooks = d.hooks
		p.fresh = fresh
		d.shards = append(d.shards, &shard{cfg: sc, tracker: tr, pipeline: p, revive: make(chan struct{}, 1), sup: &supervisor{
			shard: sc.Name, log: log, tracker: tr, metrics: d.metrics, run: p.run,
			classify: Classify, minBackoff: time.Second, maxBackoff: time.Minute, stableAfter: 5 * time.Minute,
			restart: make(chan struct{}, 1),
		}})
	}
	if cfg.Topics.RowsMoveBetweenShards {
		// One checker for the fleet: every shard asks the others (moves.go).
		d.moves = newMoveChecker(pipelines[0].namer, log, reg)
		for _, p := range pipelines {
			conn := p.readerCfg.ConnConfig()
			conn.Target = p.currentHost // the host the shard streams from, as it fails over
			d.moves.addShard(p.shard, newTableFilter(p.shardTables), conn)
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
	defer d.large.Close()
	admin := &adminServer{addr: d.cfg.Admin.Listen, log: d.log, gatherer: d.registry, status: d.Status, version: d.version,
		started: time.Now(), token: d.adminToken, pprof: d.cfg.Admin.Pprof, ctl: d, gc: d.gc.snapshot}
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

	// A parked shard's goroutine waits for a restart (POST
	// /shards/{name}/restart); when every shard is parked, the daemon ends.
	runCtx, allFailed := context.WithCancel(ctx)
	defer allFailed()
	gcDone := make(chan struct{})
	go func() { defer close(gcDone); d.gc.run(runCtx) }()
	defer func() { allFailed(); <-gcDone }()
	var g errgroup.Group
	var failed atomic.Int32
	for _, s := range d.shards {
		g.Go(func() error {
			for {
				if err := s.sup.Run(runCtx); err == nil {
					return nil // stopping
				}
				if int(failed.Add(1)) == len(d.shards) {
					allFailed()
					return nil
				}
				select {
				case <-runCtx.Done():
					return nil
				case <-s.revive:
					failed.Add(-1)
					d.log.Info("restarting a parked shard", "shard", s.cfg.Name)
				}
			}
		})
	}
	_ = g.Wait()
	stopAdmin()
	if err := <-adminErr; err != nil {
		d.log.Warn("admin server", "error", err)
	}
	if ctx.Err() == nil && int(failed.Load()) == len(d.shards) {
		return ErrAllShardsFailed
	}
	d.log.Info("tidemark stopped")
	return nil
}

// ErrNoShard: no shard of that name.
var ErrNoShard = errors.New("no such shard")

// RestartShard starts a new lifetime of a shard's pipeline now: a running
// one drains and commits first, like a shutdown; a parked (failed) one is
// started again, with its retries counted from zero. For an operator who
// fixed the cause of a failure, or changed what the shard should do.
func (d *Daemon) RestartShard(name string) error {
	for _, s := range d.shards {
		if s.cfg.Name != name {
			continue
		}
		if s.tracker.snapshot().State == StateFailed {
			select {
			case s.revive <- struct{}{}:
			default:
			}
			return nil
		}
		s.sup.Restart()
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNoShard, name)
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

// Reload applies a new configuration's allow-list changes (SIGHUP): each
// shard whose tables changed restarts its pipeline with them (draining and
// committing first), and the new lifetime snapshots the tables the
// allow-list now adds; the other shards are not touched. Every other change
// needs a restart of the process: it is named in a WARN and ignored.
func (d *Daemon) Reload(cfg *Config) {
	byName := map[string]ShardConfig{}
	for _, sc := range cfg.Shards {
		byName[sc.Name] = sc
	}
	for _, s := range d.shards {
		sc, ok := byName[s.cfg.Name]
		if !ok {
			d.log.Warn("reload: a shard removed from the configuration keeps running until the process restarts", "shard", s.cfg.Name)
			continue
		}
		delete(byName, s.cfg.Name)
		if strings.Join(sc.Addrs(), ",") != strings.Join(s.cfg.Addrs(), ",") {
			d.log.Warn("reload: a change of the shard's host or hosts applies at the next restart of the process", "shard", s.cfg.Name)
		}
		old, _ := json.Marshal(s.cfg.Tables)
		now, _ := json.Marshal(sc.Tables)
		if string(old) == string(now) {
			continue
		}
		s.cfg.Tables = sc.Tables
		s.pipeline.setTables(sc.Tables)
		if d.moves != nil {
			d.moves.setFilter(s.cfg.Name, newTableFilter(sc.Tables))
		}
		d.log.Info("reload: the shard's allow-list changed; restarting its pipeline", "shard", s.cfg.Name)
		if err := d.RestartShard(s.cfg.Name); err != nil {
			d.log.Warn("reload: restart", "shard", s.cfg.Name, "error", err)
		}
	}
	for name := range byName {
		d.log.Warn("reload: a shard added to the configuration starts with the next restart of the process", "shard", name)
	}
}
