package snapshot

import (
	"context"
	"fmt"
	"strings"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Scan and Lookup are the chunker without the watermarks: plain keyset
// pagination over the primary key, for readers that compare a table rather
// than stream it (`tidemark verify`). They hold no lock and no long
// transaction: every chunk is one short SELECT, as in a snapshot.

// ScanChunk is one chunk of a Scan: the rows of the key range (After,
// Through], in key order.
type ScanChunk struct {
	After, Through Key // After nil: from the first key
	Rows           []change.Row
}

// Scan reads table t in primary-key order, limit rows per chunk, and calls
// fn with each chunk; fn must not keep the chunk's Rows slice (its rows it
// may keep). sel is the select list (mysql.SelectColumns), convs the
// columns' converters.
func Scan(ctx context.Context, c Conn, t *schema.Table, convs []mysql.Converter, sel string, limit int, fn func(ScanChunk) error) error {
	if err := chunkable(t); err != nil {
		return err
	}
	if limit <= 0 {
		limit = 1024
	}
	var after Key
	rows := make([]change.Row, 0, limit)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows = rows[:0]
		stmt, args := chunkQuery(t, sel, &KeyRange{After: after}, "", limit)
		if err := c.QueryRows(ctx, convs, stmt, args, func(row change.Row, _ int) error {
			rows = append(rows, row)
			return nil
		}); err != nil {
			return fmt.Errorf("table %s.%s: %w", t.Database, t.Name, err)
		}
		if len(rows) == 0 {
			return nil
		}
		last, err := RowKey(t, rows[len(rows)-1])
		if err != nil {
			return fmt.Errorf("table %s.%s: %w", t.Database, t.Name, err)
		}
		if err := fn(ScanChunk{After: after, Through: last, Rows: rows}); err != nil {
			return err
		}
		if len(rows) < limit {
			return nil
		}
		after = last
	}
}

// Lookup reads the rows of t with the given primary keys (at most a few
// hundred per call; absent keys are simply not returned).
func Lookup(ctx context.Context, c Conn, t *schema.Table, convs []mysql.Converter, sel string, keys []Key, fn func(change.Row) error) error {
	if len(keys) == 0 {
		return nil
	}
	cols := keyColumns(t)
	var terms []string
	var args []any
	for _, k := range keys {
		if len(k) != len(cols) {
			return fmt.Errorf("table %s.%s: a key of %d values for %d key columns", t.Database, t.Name, len(k), len(cols))
		}
		eq := make([]string, len(cols))
		for i := range cols {
			eq[i] = cols[i] + " = ?"
			args = append(args, k[i].Param())
		}
		terms = append(terms, "("+strings.Join(eq, " AND ")+")")
	}
	stmt := "SELECT " + sel + " FROM " + quote(t.Database) + "." + quote(t.Name) + " WHERE " + strings.Join(terms, " OR ")
	if err := c.QueryRows(ctx, convs, stmt, args, func(row change.Row, _ int) error { return fn(row) }); err != nil {
		return fmt.Errorf("table %s.%s: %w", t.Database, t.Name, err)
	}
	return nil
}

// RowKey is the primary key of a row read from t, as query parameters.
func RowKey(t *schema.Table, row change.Row) (Key, error) { return keyOf(t, row) }

// Chunkable reports why t cannot be read chunk by chunk (no primary key, a
// key type that does not paginate exactly); nil when it can.
func Chunkable(t *schema.Table) error { return chunkable(t) }

// MatchTable reports whether db.table matches pattern, a "db.table" pair of
// shell globs (as the snapshot API takes them).
func MatchTable(pattern, db, table string) bool { return globMatch(pattern, db, table) }
