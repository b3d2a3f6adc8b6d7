package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// tableRows turns results into the rows of the summary table, shared by
// the terminal output and docs/benchmarks.md.
func tableRows(r *results) (header []string, rows [][]string) {
	header = []string{"scenario", "connector", "events", "seconds", "events/s", "ev/s after 1st", "startup s", "CPU-s", "CPU-s/M ev", "peak RSS", "p50 ms", "p99 ms", "max ms", "note"}
	if l := r.BulkLoad; l != nil {
		rows = append(rows, []string{"bulk load", "(writer)", fmt.Sprint(l.Rows), f1(l.Seconds), f0(l.RowsPS), "", "", "", "", "", "", "", "", "rows into the shard while connectors are stopped"})
	}
	for _, x := range r.Runs {
		row := []string{scenarioLabel(r, x.Scenario), x.Connector}
		if x.Error != "" {
			row = append(row, "", "", "", "", "", "", "", "", "", "", "", "FAILED: "+abbreviate(x.Error, 160))
			rows = append(rows, row)
			continue
		}
		row = append(row, fmt.Sprint(x.Events), f1(x.Seconds), f0(x.EventsPerSecond), f0z(x.SteadyEventsPerSecond), f1z(x.StartupSeconds),
			f1(x.CPUSeconds), f1(x.CPUSecondsPerMillion), mibStr(x.PeakRSSBytes))
		if x.Latency != nil && x.Latency.Samples > 0 {
			row = append(row, f0(x.Latency.P50MS), f0(x.Latency.P99MS), f0(x.Latency.MaxMS))
		} else {
			row = append(row, "", "", "")
		}
		var notes []string
		if x.Writer != nil {
			notes = append(notes, fmt.Sprintf("wrote %.0f rows/s", x.Writer.AchievedRowsPS))
			if x.Writer.MaxScheduleLagMS > 100 {
				notes = append(notes, fmt.Sprintf("writer lag up to %.0f ms", x.Writer.MaxScheduleLagMS))
			}
			if x.Writer.UnwrittenRows > 0 {
				notes = append(notes, fmt.Sprintf("%d rows due not written (the machine could not take the rate)", x.Writer.UnwrittenRows))
			}
		}
		if x.CatchUpSeconds > 0 {
			notes = append(notes, fmt.Sprintf("last record %.1fs after writes", x.CatchUpSeconds))
		}
		if x.BigTxnWriteSeconds > 0 {
			notes = append(notes, fmt.Sprintf("rows written in %.0fs, COMMIT took %.1fs; seconds = COMMIT sent to last record", x.BigTxnWriteSeconds, x.BigTxnCommitSeconds))
		}
		if x.Connector == "tidemark-discard" {
			notes = append(notes, "ceiling: nothing produced")
		}
		notes = append(notes, deliveryNotes(x)...)
		row = append(row, strings.Join(notes, "; "))
		rows = append(rows, row)
	}
	if p := r.RawProduce; p != nil {
		rows = append(rows, []string{"raw produce", "ProducerPerformance", fmt.Sprint(p.Records), f1(float64(p.Records) / p.RecordsPS), f0(p.RecordsPS), "", "", "", "", "", "", f0(p.P99LatencyMS), "",
			fmt.Sprintf("ceiling: %d-byte records, acks=all, idempotent; %.1f MB/s", p.RecordBytes, p.MBPS)})
	}
	return header, rows
}

// deliveryNotes says what a measurement delivered when it was not
// everything owed. A drain's audit, read after the connector stopped, tells
// a lost record (it never came) from a slow one (it came after the wait):
// a loss is reported as LOST with the ids, not as a vague INCOMPLETE.
func deliveryNotes(x measurement) []string {
	a := x.Audit
	if a == nil {
		if x.Incomplete != "" {
			return []string{"INCOMPLETE: " + abbreviate(x.Incomplete, 120)}
		}
		return nil
	}
	var notes []string
	late := a.Read - x.Events // records that came after the wait ended
	if x.TimedOut {
		// Stopped while still delivering: the rows missing then were not
		// reached, which says nothing about loss.
		notes = append(notes, "INCOMPLETE: "+abbreviate(x.Incomplete, 120))
		if a.Missing > 0 {
			notes = append(notes, fmt.Sprintf("%d owed rows not delivered when stopped", a.Missing))
		}
	} else if x.Incomplete != "" && !(a.Missing > 0 && late <= 0) {
		notes = append(notes, "INCOMPLETE: "+abbreviate(x.Incomplete, 120))
	}
	if a.Missing > 0 && !x.TimedOut {
		notes = append(notes, fmt.Sprintf("LOST: %d of %d owed rows never delivered (id %s; topic read back after the stop); figures to the last record",
			a.Missing, a.Owed, idList(a.MissingIDs, a.Missing)))
	}
	if a.Duplicates > 0 {
		notes = append(notes, fmt.Sprintf("DUPLICATES: %d rows delivered twice (id %s)", a.Duplicates, idList(a.DuplicateIDs, a.Duplicates)))
	}
	if a.Unexpected > 0 {
		notes = append(notes, fmt.Sprintf("%d records of rows written before its stored position (id %s)", a.Unexpected, idList(a.UnexpectedIDs, a.Unexpected)))
	}
	if late > 0 {
		notes = append(notes, fmt.Sprintf("%d records arrived after the wait ended", late))
	}
	return notes
}

func scenarioLabel(r *results, s string) string {
	switch {
	case s == "drain":
		return fmt.Sprintf("drain %s rows", count(r.Plan.DrainRows))
	case s == "snapshot":
		return fmt.Sprintf("snapshot of %s rows", count(r.Plan.SnapshotRows))
	case s == "big-txn":
		return fmt.Sprintf("1 txn of %s rows", count(r.Plan.BigTxnRows))
	case strings.HasPrefix(s, "live-"):
		return fmt.Sprintf("live %s rows/s %ds", strings.TrimPrefix(s, "live-"), r.Plan.LiveSeconds)
	}
	return s
}

// printText writes the table and the targets for a terminal.
func printText(out io.Writer, r *results) {
	fmt.Fprintf(out, "\nTidemark vs Debezium (%s run, %s, %.0fs)\n", runKind(r), r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.DurationSeconds)
	fmt.Fprintf(out, "machine: %s; load average %s -> %s, %.0f%% of all cores busy over the run\n\n",
		r.Machine, r.MachineLoad.LoadavgBefore, r.MachineLoad.LoadavgAfter, r.MachineLoad.BusyPercent)
	header, rows := tableRows(r)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(out, "\ntargets (reported, not asserted):\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Result, t.Goal, t.Detail)
	}
	tw.Flush()
	if h, rows := exactlyOnceRows(r); len(rows) > 0 {
		fmt.Fprintf(out, "\nexactly once (tidemark-eo) against at least once (tidemark):\n")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(h, "\t"))
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	printSnapshot(out, r)
	printLarge(out, r)
	for _, s := range r.Skipped {
		fmt.Fprintf(out, "skipped: %s\n", s)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(out, "error: %s\n", e)
	}
}

// markdownTable renders the same rows for docs/benchmarks.md.
func markdownTable(r *results) string { return markdownRows(tableRows(r)) }

func markdownTargets(r *results) string { return markdownTargetList(r.Targets) }

func runKind(r *results) string {
	switch {
	case r.Plan.ScenarioFilter != "" || r.Plan.ConnectorFilter != "" || r.Plan.Overrides != "":
		return "partial"
	case r.Plan.Quick:
		return "quick"
	}
	return "full"
}

func f0(f float64) string { return fmt.Sprintf("%.0f", f) }
func f1(f float64) string { return fmt.Sprintf("%.1f", f) }
func f0z(f float64) string {
	if f == 0 {
		return ""
	}
	return f0(f)
}

func f1z(f float64) string {
	if f == 0 {
		return ""
	}
	return f1(f)
}

func mibStr(b int64) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/mib)
}

func count(n int64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// snapshotTableRows is the snapshot scenario's table (issue 9).
func snapshotTableRows(r *results) (header []string, rows [][]string) {
	header = []string{"connector", "settings", "rows", "seconds", "rows/s", "rows/s after 1st", "first record s", "CPU-s", "CPU-s/M rows", "peak RSS",
		"OLTP p50 ms without / during", "OLTP p99 ms without / during", "p99 rise", "note"}
	s := r.Snapshot
	if s == nil {
		return header, nil
	}
	if l := s.Fill; l != nil {
		rows = append(rows, []string{"(writer)", "fill " + s.Table, fmt.Sprint(l.Rows), f1(l.Seconds), f0(l.RowsPS), "", "", "", "", "", "", "", "",
			"multi-row INSERTs before any connector starts"})
	}
	for _, x := range s.Runs {
		row := []string{x.Connector, x.Settings}
		if x.Error != "" {
			row = append(row, "", "", "", "", "", "", "", "", "", "", "", "FAILED: "+abbreviate(x.Error, 200))
			rows = append(rows, row)
			continue
		}
		row = append(row, fmt.Sprint(x.Rows), f1(x.Seconds), f0(x.RowsPerSecond), f0z(x.SteadyRowsPerSecond), f1z(x.StartupSeconds), f1(x.CPUSeconds), f1(x.CPUSecondsPerMillion), mibStr(x.PeakRSSBytes))
		pair := func(get func(*oltpStats) float64) string {
			if x.OLTPBaseline == nil || x.OLTPDuring == nil || x.OLTPDuring.Samples == 0 {
				return ""
			}
			return fmt.Sprintf("%.1f / %.1f", get(x.OLTPBaseline), get(x.OLTPDuring))
		}
		row = append(row, pair(func(o *oltpStats) float64 { return o.P50MS }), pair(func(o *oltpStats) float64 { return o.P99MS }))
		if x.P99RisePercent != nil {
			row = append(row, fmt.Sprintf("%+.0f%%", *x.P99RisePercent))
		} else {
			row = append(row, "")
		}
		notes := []string{x.Signal}
		if x.Incomplete != "" {
			notes = append(notes, "INCOMPLETE: "+abbreviate(x.Incomplete, 120))
		}
		if d := x.OLTPDuring; d != nil && (d.Errors > 0 || d.Unsent > 0) {
			notes = append(notes, fmt.Sprintf("OLTP during: %d errors, %d statements not sent", d.Errors, d.Unsent))
		}
		notes = append(notes, x.Notes...)
		row = append(row, strings.Join(notes, "; "))
		rows = append(rows, row)
	}
	return header, rows
}

func printSnapshot(out io.Writer, r *results) {
	if r.Snapshot == nil {
		return
	}
	fmt.Fprintf(out, "\nincremental snapshot of %s (%d rows):\n", r.Snapshot.Table, r.Snapshot.Rows)
	header, rows := snapshotTableRows(r)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if s := r.Snapshot.DebeziumReadOnly; s != "" {
		fmt.Fprintf(out, "Debezium read-only mode: %s\n", s)
	}
	fmt.Fprintf(out, "\nsnapshot targets (reported, not asserted):\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range r.SnapshotTargets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Result, t.Goal, t.Detail)
	}
	tw.Flush()
}

// markdownRows renders a header and rows as a markdown table.
func markdownRows(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range rows {
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], "|", "/")
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

func markdownSnapshotTable(r *results) string { return markdownRows(snapshotTableRows(r)) }

func markdownTargetList(ts []target) string {
	var b strings.Builder
	b.WriteString("| goal | result | figures |\n|---|---|---|\n")
	for _, t := range ts {
		fmt.Fprintf(&b, "| %s | **%s** | %s |\n", t.Goal, t.Result, t.Detail)
	}
	return b.String()
}

// largeTableRows is the large-record scenario's table (issue 10).
func largeTableRows(r *results) (header []string, rows [][]string) {
	header = []string{"connector", "rows (over 1 MiB)", "payload", "seconds", "write s", "events/s", "MiB/s", "CPU-s", "CPU-s/M ev", "CPU-s/GiB",
		"peak RSS (at start)", "inline / compressed / offloaded", "store ms p50 / p99 / mean", "stack CPU-s (shard1 / kafka / registry / gcs)", "note"}
	l := r.Large
	if l == nil {
		return header, nil
	}
	for _, x := range l.Runs {
		row := []string{x.Connector, fmt.Sprintf("%d (%d)", x.Rows, x.LargeRows), mibStr(x.PayloadBytes)}
		if x.Error != "" {
			row = append(row, "", "", "", "", "", "", "", "", "", "", "", "FAILED: "+abbreviate(x.Error, 200))
			rows = append(rows, row)
			continue
		}
		row = append(row, f1(x.Seconds), f1(x.WriteSeconds), rate(x.EventsPerSecond), f1(x.MiBPerSecond), f1(x.CPUSeconds), f1(x.CPUSecondsPerMillion),
			f1(x.CPUSecondsPerGiB), fmt.Sprintf("%s (%s)", mibStr(x.PeakRSSBytes), mibStr(x.StartRSSBytes)),
			fmt.Sprintf("%d / %d / %d", x.Forms["inline"], x.Forms["compressed"], x.Forms["offloaded"]))
		if s := x.Store; s != nil {
			row = append(row, fmt.Sprintf("%.0f / %.0f / %.0f", s.P50MS, s.P99MS, s.MeanMS))
		} else {
			row = append(row, "")
		}
		ld := x.Load.StackCPU
		row = append(row, fmt.Sprintf("%.1f / %.1f / %.1f / %.1f", ld["shard1"], ld["kafka"], ld["registry"], ld["gcs"]))
		var notes []string
		if x.Incomplete != "" {
			notes = append(notes, "INCOMPLETE: "+abbreviate(x.Incomplete, 120))
		}
		notes = append(notes, fmt.Sprintf("last record %.1fs after the last write", x.CatchUpSeconds))
		if s := x.Store; s != nil && x.Seconds > 0 {
			notes = append(notes, fmt.Sprintf("store time (count × mean) %.0f s, %.0f%% of seconds", float64(s.Count)*s.MeanMS/1000, float64(s.Count)*s.MeanMS/10/x.Seconds))
		}
		notes = append(notes, x.Notes...)
		row = append(row, strings.Join(notes, "; "))
		rows = append(rows, row)
	}
	return header, rows
}

// largeVerifyLines says, per variant, what the read-back checked.
func largeVerifyLines(r *results) []string {
	if r.Large == nil {
		return nil
	}
	var out []string
	for _, x := range r.Large.Runs {
		v := x.Verify
		if v == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %d of %d ids read back exactly once (%d missing, %d duplicated, %d unexpected); "+
			"%d bodies decoded and equal to MariaDB's SHA2(body, 256) and length, %d of them offloaded (fetched, decrypted, inflated); "+
			"headers: %d inline, %d compressed, %d offloaded; largest record in Kafka %d bytes; %d objects (%.0f MiB) in the bucket",
			x.Connector, v.Audit.Owed-v.Audit.Missing, v.Audit.Owed, v.Audit.Missing, v.Audit.Duplicates, v.Audit.Unexpected,
			v.Checked, v.CheckedOffloaded, v.Forms["inline"], v.Forms["compressed"], v.Forms["offloaded"], v.MaxRecordBytes, v.Objects, float64(v.ObjectBytes)/mib))
	}
	return out
}

// largeCostLine is the claim-check's cost in one sentence.
func largeCostLine(r *results) string {
	if r.Large == nil || r.Large.Cost == nil {
		return "not measured (tidemark-large and tidemark-small must both be measured and verified)"
	}
	c := r.Large.Cost
	var s, l largeRun
	for _, x := range r.Large.Runs {
		switch x.Connector {
		case "tidemark-small":
			s = x
		case "tidemark-large":
			l = x
		}
	}
	return fmt.Sprintf("events/s %.3gx (%.0f against %.0f); CPU-s per M events %.1f against %.1f (%.3gx); peak RSS %+.0f MiB (%s against %s), for %s more payload",
		c.EventsPerSecondRatio, l.EventsPerSecond, s.EventsPerSecond, c.CPUPerMillionLarge, c.CPUPerMillionSmall, c.CPUPerMillionRatio,
		float64(c.ExtraPeakRSSBytes)/mib, mibStr(l.PeakRSSBytes), mibStr(s.PeakRSSBytes), mibStr(c.ExtraPayloadBytes))
}

func printLarge(out io.Writer, r *results) {
	l := r.Large
	if l == nil {
		return
	}
	fmt.Fprintf(out, "\nlarge records (Tidemark's claim-check; %d rows, %d of 2-40 MiB; %d rows of %s):\n", l.Rows, l.LargeRows, l.MaxRows, mibStr(int64(l.MaxBytes)))
	header, rows := largeTableRows(r)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(out, "claim-check's cost (tidemark-large against tidemark-small): %s\n", largeCostLine(r))
	for _, v := range largeVerifyLines(r) {
		fmt.Fprintf(out, "verified: %s\n", v)
	}
}

// rate prints a rate under 100/s with its tenth.
func rate(f float64) string {
	if f < 100 {
		return f1(f)
	}
	return f0(f)
}

func markdownLargeTable(r *results) string { return markdownRows(largeTableRows(r)) }

func markdownLargeVerify(r *results) string {
	var b strings.Builder
	for _, v := range largeVerifyLines(r) {
		b.WriteString("- " + v + "\n")
	}
	return b.String()
}

// exactlyOnceRows compares Tidemark's two delivery modes scenario by
// scenario (issue 11): what exactly once costs against at least once.
func exactlyOnceRows(r *results) (header []string, rows [][]string) {
	header = []string{"scenario", "events/s at least once", "events/s exactly once", "change", "p99 ms at least once", "p99 ms exactly once",
		"CPU-s/M ev at least once", "CPU-s/M ev exactly once", "change", "peak RSS at least once / exactly once"}
	pct := func(a, b float64) string {
		if a == 0 {
			return ""
		}
		return fmt.Sprintf("%+.0f%%", (b-a)/a*100)
	}
	p99 := func(m *measurement) string {
		if m.Latency == nil || m.Latency.Samples == 0 {
			return ""
		}
		return f0(m.Latency.P99MS)
	}
	seen := map[string]bool{}
	for _, x := range r.Runs {
		if seen[x.Scenario] {
			continue
		}
		seen[x.Scenario] = true
		alo, eo := r.find(x.Scenario, "tidemark"), r.find(x.Scenario, "tidemark-eo")
		if alo == nil || eo == nil {
			continue
		}
		rows = append(rows, []string{scenarioLabel(r, x.Scenario), f0(alo.EventsPerSecond), f0(eo.EventsPerSecond), pct(alo.EventsPerSecond, eo.EventsPerSecond),
			p99(alo), p99(eo), f1(alo.CPUSecondsPerMillion), f1(eo.CPUSecondsPerMillion), pct(alo.CPUSecondsPerMillion, eo.CPUSecondsPerMillion),
			mibStr(alo.PeakRSSBytes) + " / " + mibStr(eo.PeakRSSBytes)})
	}
	return header, rows
}

func markdownExactlyOnceTable(r *results) string { return markdownRows(exactlyOnceRows(r)) }
