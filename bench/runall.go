package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// runAll is the run's order. Connectors alternate within every scenario
// (Debezium, Tidemark, Debezium, ...), each in a fresh process, so that
// neither always runs on a warmer machine. One bulk load serves every
// drain: each connector stores its position first, then all are stopped,
// the rows written, and each drains the same binlog range in turn.
func (b *bench) runAll(ctx context.Context, conns []connector) error {
	if err := b.prepare(ctx, conns); err != nil {
		return err
	}
	order := alternate(conns)
	measurable := func(c connector, scenario string) bool {
		if why, ok := b.unavailable[c.name()]; ok {
			b.skip(fmt.Sprintf("%s %s: %s", c.name(), scenario, why))
			return false
		}
		return b.plan.wants(scenario, c.name())
	}
	record := func(m measurement) {
		b.res.Runs = append(b.res.Runs, m)
		attrs := []any{"scenario", m.Scenario, "connector", m.Connector, "events", m.Events, "seconds", m.Seconds, "events_per_second", m.EventsPerSecond}
		if m.Latency != nil {
			attrs = append(attrs, "p50_ms", m.Latency.P50MS, "p99_ms", m.Latency.P99MS)
		}
		if m.Error != "" {
			b.log.Error("measurement failed", append(attrs, "err", m.Error)...)
			return
		}
		b.log.Info("measured", attrs...)
	}

	// Drain: register, load once, drain each.
	var drainers []connector
	for _, c := range order {
		if !measurable(c, "drain") {
			continue
		}
		b.log.Info("storing a drain position", "connector", c.name())
		if err := b.register(ctx, c); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.unavailable[c.name()] = "could not start and stream: " + err.Error()
			if c.system() == "tidemark" && c.name() == "tidemark" {
				// The discard variant runs the same daemon; don't wait for it twice.
				b.unavailable["tidemark-discard"] = "tidemark could not start and stream"
			}
			b.skip(fmt.Sprintf("%s: %s", c.name(), b.unavailable[c.name()]))
			continue
		}
		drainers = append(drainers, c)
	}
	if len(drainers) > 0 {
		b.log.Info("bulk load", "rows", b.plan.DrainRows)
		l, err := b.w.bulkLoad(ctx, b.plan.DrainRows, b.plan.LoadBatch, b.plan.LoadConns)
		if err != nil {
			return err
		}
		b.res.BulkLoad = &l
		for _, c := range drainers {
			b.log.Info("drain", "connector", c.name())
			record(b.drain(ctx, c))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}

	// Ceiling (b): the broker alone, with no connector running.
	if b.plan.wants("raw", "kafka") && b.debeziumLibs != "" {
		b.log.Info("raw produce ceiling", "records", b.plan.RawRecords)
		s0 := sampleCPU(b.stackDir)
		rp, err := runRawProduce(ctx, b.java, b.debeziumLibs, strings.Join(b.env.Brokers, ","), rawTopic, b.plan.RawRecords, b.plan.RawRecordBytes, b.logDir)
		if err != nil {
			b.res.Errors = append(b.res.Errors, err.Error())
			if ctx.Err() != nil {
				return ctx.Err()
			}
		} else {
			rp.Load = loadBetween(s0, sampleCPU(b.stackDir))
			b.res.RawProduce = rp
		}
	}

	// Live windows: the variants with a topic; JSON only in the drain.
	for _, rate := range b.plan.LiveRates {
		for _, c := range order {
			if c.topic() == "" || c.name() == "debezium-json" || !measurable(c, fmt.Sprintf("live-%d", rate)) {
				continue
			}
			b.log.Info("live window", "connector", c.name(), "rows_per_second", rate, "seconds", b.plan.LiveSeconds)
			record(b.live(ctx, c, rate))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}

	for _, c := range order {
		if c.topic() == "" || c.name() == "debezium-json" || !measurable(c, "big-txn") {
			continue
		}
		b.log.Info("big transaction", "connector", c.name(), "rows", b.plan.BigTxnRows)
		record(b.bigTxn(ctx, c))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	// Incremental snapshot (issue 9): its own tables.
	if err := b.snapshots(ctx, conns); err != nil {
		return err
	}
	// Large records (issue 10): its own tables, last (it writes gigabytes).
	return b.large(ctx, conns)
}

// alternate orders connectors Debezium, Tidemark, Debezium, Tidemark...
func alternate(cs []connector) []connector {
	var dbz, tm []connector
	for _, c := range cs {
		if c.system() == "debezium" {
			dbz = append(dbz, c)
		} else {
			tm = append(tm, c)
		}
	}
	return interleave(dbz, tm)
}

// interleave alternates a's and b's elements (a first), so that a slow
// drift of the shared machine over a run affects both sides alike.
func interleave[T any](a, b []T) []T {
	out := make([]T, 0, len(a)+len(b))
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

func (b *bench) skip(msg string) {
	for _, s := range b.res.Skipped {
		if s == msg {
			return
		}
	}
	b.res.Skipped = append(b.res.Skipped, msg)
	b.log.Warn("skipped", "what", msg)
}

// prepare resets the bench's database, topics and subjects, so that a run
// never sees a previous one's rows, records or positions.
func (b *bench) prepare(ctx context.Context, conns []connector) error {
	b.log.Info("resetting the bench database, topics and subjects")
	if err := b.db.resetBenchDatabase(ctx, benchDatabase, benchTable); err != nil {
		return err
	}
	if err := b.db.ensureDebeziumUser(ctx, debeziumUser, debeziumPassword); err != nil {
		return err
	}
	if err := b.cleanup(ctx, conns); err != nil {
		return err
	}
	for _, c := range conns {
		if c.topic() == "" {
			continue
		}
		if err := b.ka.createTopic(ctx, c.topic(), benchPartitions, benchTopicConfig); err != nil {
			return err
		}
	}
	return b.ka.createTopic(ctx, rawTopic, benchPartitions, nil)
}

// cleanup deletes the bench's topics and registry subjects: its own names
// only, never anything else on the shared stack.
func (b *bench) cleanup(ctx context.Context, conns []connector) error {
	var topics []string
	for _, c := range conns {
		if c.topic() != "" {
			topics = append(topics, c.topic())
		}
		topics = append(topics, snapshotTopics(c)...)
		topics = append(topics, largeTopics(c)...)
	}
	if _, err := b.ka.deleteTopicsWithPrefix(ctx, append([]string{stateTopicPrefix, rawTopic}, topics...)...); err != nil {
		return err
	}
	for _, t := range topics {
		for _, s := range []string{t + "-key", t + "-value"} {
			// Soft delete, then permanent: the registry requires both steps.
			for _, q := range []string{"", "?permanent=true"} {
				req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, b.env.RegistryURL+"/subjects/"+s+q, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	}
	return nil
}
