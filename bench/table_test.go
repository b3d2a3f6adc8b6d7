package main

import (
	"strings"
	"testing"
)

func TestRowSizeAndShape(t *testing.T) {
	g := newRowGen(1)
	var total int
	const n = 200
	for i := 0; i < n; i++ {
		row := string(g.appendRow(nil, int64(i+1), 1795548520123456))
		total += len(row)
		// 20 values: the JSON column holds commas of its own, so count the
		// columns by the quoted and unquoted values' separators outside quotes.
		if got := countValues(row); got != 20 {
			t.Fatalf("row %d has %d values, want 20: %s", i, got, row)
		}
		if strings.ContainsAny(strings.ReplaceAll(row, "'", ""), `\`) {
			t.Fatalf("row needs escaping: %s", row)
		}
	}
	// The issue asks for ~500 bytes per row; the SQL text is within a few
	// bytes of the stored size.
	if avg := total / n; avg < 400 || avg > 650 {
		t.Fatalf("average row literal is %d bytes, want ~500", avg)
	}
}

func countValues(tuple string) int {
	tuple = strings.TrimSuffix(strings.TrimPrefix(tuple, "("), ")")
	n, quoted := 1, false
	for _, c := range tuple {
		switch {
		case c == '\'':
			quoted = !quoted
		case c == ',' && !quoted:
			n++
		}
	}
	return n
}

func TestInsertStatement(t *testing.T) {
	q := string(newRowGen(2).appendInsert(nil, "bench.orders", 10, 3, 1))
	if !strings.HasPrefix(q, "INSERT INTO bench.orders "+insertColumns+" VALUES (10,") {
		t.Fatalf("statement starts %q", abbreviate(q, 120))
	}
	if got := strings.Count(q, "),("); got != 2 {
		t.Fatalf("3 rows joined by %d separators", got)
	}
	if cols := strings.Count(insertColumns, ",") + 1; cols != 20 {
		t.Fatalf("%d columns, want 20", cols)
	}
}

func TestDedupeAndJoin(t *testing.T) {
	if got := joinIDs(dedupe([]int64{3, 1, 3, 2, 1})); got != "3,1,2" {
		t.Fatalf("got %q", got)
	}
	if got := string(appendDecimal(nil, 1205)); got != "12.05" {
		t.Fatalf("decimal %q", got)
	}
}
