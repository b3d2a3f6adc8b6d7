package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// benchmarks.md.tmpl is the prose of docs/benchmarks.md; a full run fills
// in its figures and conditions and overwrites the file.
//
//go:embed benchmarks.md.tmpl
var docTemplate string

func renderMarkdown(r *results) ([]byte, error) {
	t, err := template.New("benchmarks.md").Funcs(template.FuncMap{
		"table":            func() string { return markdownTable(r) },
		"targets":          func() string { return markdownTargets(r) },
		"kv":               sortedKV,
		"kind":             func() string { return runKind(r) },
		"date":             func() string { return r.Started.UTC().Format("2006-01-02 15:04 UTC") },
		"mins":             func(s float64) string { return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60) },
		"loads":            func() string { return loadLines(r) },
		"snapshotTable":    func() string { return markdownSnapshotTable(r) },
		"exactlyOnceTable": func() string { return markdownExactlyOnceTable(r) },
		"snapshotTargets":  func() string { return markdownTargetList(r.SnapshotTargets) },
		"largeTable":       func() string { return markdownLargeTable(r) },
		"largeVerify":      func() string { return markdownLargeVerify(r) },
		"largeCost":        func() string { return largeCostLine(r) },
		"mib":              func(n any) string { return mibStr(toInt64(n)) },
	}).Parse(docTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sortedKV(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "- `%s`: %s\n", k, m[k])
	}
	return b.String()
}

// loadLines lists each measurement's machine load: what else ran.
func loadLines(r *results) string {
	var b strings.Builder
	b.WriteString("| scenario | connector | load avg before → after | all cores busy | stack CPU-s (shard1 / kafka / registry) |\n|---|---|---|---|---|\n")
	for _, m := range r.Runs {
		l := m.Load
		fmt.Fprintf(&b, "| %s | %s | %s → %s | %.0f%% | %.1f / %.1f / %.1f |\n", m.Scenario, m.Connector,
			l.LoadavgBefore, l.LoadavgAfter, l.BusyPercent, l.StackCPU["shard1"], l.StackCPU["kafka"], l.StackCPU["registry"])
	}
	if s := r.Snapshot; s != nil {
		for _, m := range s.Runs {
			l := m.Load
			fmt.Fprintf(&b, "| snapshot | %s | %s → %s | %.0f%% | %.1f / %.1f / %.1f |\n", m.Connector,
				l.LoadavgBefore, l.LoadavgAfter, l.BusyPercent, l.StackCPU["shard1"], l.StackCPU["kafka"], l.StackCPU["registry"])
		}
	}
	if l := r.Large; l != nil {
		for _, m := range l.Runs {
			ld := m.Load
			fmt.Fprintf(&b, "| large | %s | %s → %s | %.0f%% | %.1f / %.1f / %.1f |\n", m.Connector,
				ld.LoadavgBefore, ld.LoadavgAfter, ld.BusyPercent, ld.StackCPU["shard1"], ld.StackCPU["kafka"], ld.StackCPU["registry"])
		}
	}
	if p := r.RawProduce; p != nil {
		l := p.Load
		fmt.Fprintf(&b, "| raw produce | ProducerPerformance | %s → %s | %.0f%% | %.1f / %.1f / %.1f |\n",
			l.LoadavgBefore, l.LoadavgAfter, l.BusyPercent, l.StackCPU["shard1"], l.StackCPU["kafka"], l.StackCPU["registry"])
	}
	return b.String()
}

func toInt64(n any) int64 {
	switch x := n.(type) {
	case int:
		return int64(x)
	case int64:
		return x
	}
	return 0
}
