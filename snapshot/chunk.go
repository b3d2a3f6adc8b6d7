package snapshot

import (
	"strings"

	"github.com/tidemark-cdc/tidemark/schema"
)

// The chunk queries: keyset pagination over the primary key, in the key's
// column order, with the comparisons the server itself does (the column's
// collation: a `_ci` key orders 'a' and 'A' together, as its unique index
// does, so pagination by the server's `>` never skips or repeats a row).
//
// For a key (k1, k2, k3), "after (a1, a2, a3)" is
//
//	k1 > ? OR (k1 = ? AND k2 > ?) OR (k1 = ? AND k2 = ? AND k3 > ?)
//
// (the expanded form: MariaDB's range optimizer uses the index for it, which
// it does not always do for a row-constructor comparison), and "through" is
// the same with < and a last all-equal term.

func quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }

// keyColumns are the quoted key column names of t.
func keyColumns(t *schema.Table) []string {
	out := make([]string, len(t.PrimaryKey))
	for j, i := range t.PrimaryKey {
		out[j] = quote(t.Columns[i].Name)
	}
	return out
}

// boundPredicate renders "key op bound" for op ">" (after) or "<=" (through)
// with its parameters.
func boundPredicate(cols []string, bound Key, after bool) (string, []any) {
	var terms []string
	var args []any
	strict := ">"
	if !after {
		strict = "<"
	}
	for j := range cols {
		var t []string
		for i := 0; i < j; i++ {
			t = append(t, cols[i]+" = ?")
			args = append(args, bound[i].Param())
		}
		t = append(t, cols[j]+" "+strict+" ?")
		args = append(args, bound[j].Param())
		terms = append(terms, "("+strings.Join(t, " AND ")+")")
	}
	if !after { // through: the bound itself is included
		var t []string
		for i := range cols {
			t = append(t, cols[i]+" = ?")
			args = append(args, bound[i].Param())
		}
		terms = append(terms, "("+strings.Join(t, " AND ")+")")
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// chunkQuery is the SELECT of one chunk of range r: the rows after r.After
// (and through r.Through), filtered by where, in key order, at most limit.
func chunkQuery(t *schema.Table, selectList string, r *KeyRange, where string, limit int) (string, []any) {
	cols := keyColumns(t)
	var conds []string
	var args []any
	if r.After != nil {
		p, a := boundPredicate(cols, r.After, true)
		conds, args = append(conds, p), append(args, a...)
	}
	if r.Through != nil {
		p, a := boundPredicate(cols, r.Through, false)
		conds, args = append(conds, p), append(args, a...)
	}
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(selectList)
	b.WriteString(" FROM ")
	b.WriteString(quote(t.Database))
	b.WriteByte('.')
	b.WriteString(quote(t.Name))
	if len(conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(" LIMIT ")
	b.WriteString(itoa(limit))
	return b.String(), args
}

// splitQuery selects the key of the row at offset off (in key order, after
// the filter): a split point between two chunk readers' ranges. The offset
// scan reads the key index only.
func splitQuery(t *schema.Table, where string, off int64) string {
	cols := keyColumns(t)
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quote(t.Database) + "." + quote(t.Name)
	if where != "" {
		q += " WHERE (" + where + ")"
	}
	return q + " ORDER BY " + strings.Join(cols, ", ") + " LIMIT 1 OFFSET " + itoa64(off)
}

// quoteTable quotes "db.table".
func quoteTable(t string) string {
	db, name, _ := strings.Cut(t, ".")
	return quote(db) + "." + quote(name)
}
