package binlog

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// tableEntry is a table as the reader decodes it: the table-map event it was
// built from, its schema and its converters.
type tableEntry struct {
	tm    *replication.TableMapEvent
	table *schema.Table
	conv  []mysql.Converter
	key   string // lower-case "db.table"
	gen   uint64 // invalidation generation when built (see tableCache.gen)
}

// tableCache resolves table-map events to tableEntries. It lives for a whole
// Run, across reconnects, so that a table keeps its *schema.Table pointer
// (serde caches Avro schemas by pointer) as long as its shape is unchanged.
type tableCache struct {
	env mysql.TableEnv
	// entries holds one entry per database and table name (not per table
	// id: ids change whenever the server reopens a table, which on a server
	// with more tables than its table_definition_cache is all the time).
	entries map[string]map[string]*tableEntry
	// is caches information_schema's view per lower-case "db.table"; a DDL
	// naming the table drops it and bumps the table's generation, which
	// forces the next table map to be rebuilt even if its bytes are the same
	// (a DDL the binlog types do not show, such as BINARY(16) to UUID).
	is     map[string]*mysql.CatalogTable
	gens   map[string]uint64
	allGen uint64 // bumped by DDL that may touch any table
	// ddl is the last DDL statement naming each table ("" key: the last one
	// that may touch any table), given to the next shape built for it
	// (schema.Table.DDL).
	ddl     map[string]string
	metrics *shardMetrics
	warn    func(kind, msg string) // the session's warn
}

func newTableCache(env mysql.TableEnv, m *shardMetrics) *tableCache {
	return &tableCache{
		env: env, entries: map[string]map[string]*tableEntry{},
		is: map[string]*mysql.CatalogTable{}, gens: map[string]uint64{}, ddl: map[string]string{}, metrics: m,
	}
}

func (c *tableCache) gen(key string) uint64 { return c.allGen<<32 + c.gens[key] }

// resolve returns the entry for a rows event's table map. The fast path (the
// same table-map event, or an identical one in a later transaction) does no
// allocation and no I/O.
func (c *tableCache) resolve(ctx context.Context, q *mysql.Conn, tm *replication.TableMapEvent) (*tableEntry, error) {
	ent := c.entries[string(tm.Schema)][string(tm.Table)] // (no allocation for these lookups)
	if ent != nil && (ent.tm == tm || sameTableMap(ent.tm, tm)) && ent.gen == c.gen(ent.key) {
		ent.tm = tm
		return ent, nil
	}
	if err := c.env.Load(ctx, q); err != nil {
		return nil, err
	}
	db, name := string(tm.Schema), string(tm.Table)
	key := strings.ToLower(db + "." + name)
	is, cached := c.is[key]
	if !cached {
		var err error
		if is, err = mysql.LoadTable(ctx, q, c.env.Flavor, db, name); err != nil {
			return nil, err
		}
		c.is[key] = is
	}
	table, conv, err := mysql.BuildTable(&c.env, tm, is)
	if err != nil {
		return nil, err
	}
	if cols := mysql.UncertainColumns(tm, is, table); len(cols) > 0 && c.warn != nil {
		c.warn("schema_uncertain", fmt.Sprintf("table %s: information_schema shows the table as changed since the rows being read were written (a later DDL), "+
			"and the binlog cannot tell MariaDB's UUID/INET6/INET4 from BINARY(16)/BINARY(4): decoded %s; "+
			"if a DDL in between changed these columns' types, their values in these rows are wrong: re-snapshot the table once the reader caught up",
			table.QualifiedName(), describeGuesses(table, is, cols)))
	}
	if len(tm.ColumnName) == int(tm.ColumnCount) {
		c.metrics.loadsBinlog.Inc()
	} else {
		c.metrics.loadsInfoSchema.Inc()
	}
	if ent != nil && mysql.SameTable(ent.table, table) {
		table = ent.table // unchanged shape: keep the pointer serde caches by
	} else if q, ok := c.ddl[key]; ok {
		table.DDL = q
	} else {
		table.DDL = c.ddl[""]
	}
	ent = &tableEntry{tm: tm, table: table, conv: conv, key: key, gen: c.gen(key)}
	tables := c.entries[db]
	if tables == nil {
		tables = map[string]*tableEntry{}
		c.entries[db] = tables
	}
	tables[name] = ent
	return ent, nil
}

// invalidate records a DDL statement: the tables it names (or all of them)
// are re-read from information_schema at their next table map.
func (c *tableCache) invalidate(query, defaultDB string) {
	tables, all := ddlTargets(query, defaultDB)
	if len(query) > 4096 {
		query = query[:4096] + "..." // kept for messages only
	}
	if all {
		c.allGen++
		clear(c.is)
		clear(c.ddl)
		c.ddl[""] = query
		return
	}
	for _, t := range tables {
		c.gens[t]++
		delete(c.is, t)
		c.ddl[t] = query
	}
}

// sameTableMap reports whether two table-map events describe the same table
// shape: same names, types, type metadata, nullability and optional
// metadata. Table ids are not compared.
func sameTableMap(a, b *replication.TableMapEvent) bool {
	return bytes.Equal(a.Schema, b.Schema) && bytes.Equal(a.Table, b.Table) &&
		a.ColumnCount == b.ColumnCount && bytes.Equal(a.ColumnType, b.ColumnType) &&
		slices.Equal(a.ColumnMeta, b.ColumnMeta) && bytes.Equal(a.NullBitmap, b.NullBitmap) &&
		bytes.Equal(a.SignednessBitmap, b.SignednessBitmap) &&
		slices.Equal(a.DefaultCharset, b.DefaultCharset) && slices.Equal(a.ColumnCharset, b.ColumnCharset) &&
		equalBytesList(a.ColumnName, b.ColumnName) &&
		equalMembers(a.SetStrValue, b.SetStrValue) && equalMembers(a.EnumStrValue, b.EnumStrValue) &&
		slices.Equal(a.GeometryType, b.GeometryType) && slices.Equal(a.PrimaryKey, b.PrimaryKey) &&
		slices.Equal(a.PrimaryKeyPrefix, b.PrimaryKeyPrefix) &&
		slices.Equal(a.EnumSetDefaultCharset, b.EnumSetDefaultCharset) &&
		slices.Equal(a.EnumSetColumnCharset, b.EnumSetColumnCharset) &&
		bytes.Equal(a.VisibilityBitmap, b.VisibilityBitmap)
}

func equalBytesList(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

func equalMembers(a, b [][][]byte) bool {
	return slices.EqualFunc(a, b, equalBytesList)
}

// describeGuesses says how each named column was decoded and why:
// "u as uuid (its type today), ip as binary(16) (no such column today)".
func describeGuesses(t *schema.Table, is *mysql.CatalogTable, cols []string) string {
	var out []string
	for _, name := range cols {
		i := t.ColumnIndex(name)
		if i < 0 {
			continue
		}
		why := "no such column today"
		for _, c := range is.Columns {
			if strings.EqualFold(c.Name, name) {
				why = "its type today"
			}
		}
		out = append(out, fmt.Sprintf("%s as %s (%s)", name, t.Columns[i].RawType, why))
	}
	return strings.Join(out, ", ")
}
