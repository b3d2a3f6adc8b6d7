package binlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidemark-cdc/tidemark/change"
)

// Reading table metadata from information_schema: off the per-row path,
// once per new table shape (see tableschema.go for what it is used for and
// the race it has).

// loadTable reads db.table from information_schema; nil when the table does
// not exist (any more).
func loadTable(ctx context.Context, q *sqlConn, flavor change.Flavor, db, table string) (*isTable, error) {
	rows, err := q.query(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", db, table, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	t := &isTable{cols: make([]isColumn, len(rows))}
	for i, r := range rows {
		if len(r) < 5 {
			return nil, fmt.Errorf("read columns of %s.%s: short row", db, table)
		}
		t.cols[i] = isColumn{
			name: r[0].s, dataType: strings.ToLower(r[1].s), columnType: r[2].s,
			charset: r[3].s, collation: r[4].s,
		}
	}
	rows, err = q.query(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, db, table)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s.%s: %w", db, table, err)
	}
	for _, r := range rows {
		t.pk = append(t.pk, r[0].s)
	}
	if flavor == change.FlavorMariaDB {
		// MariaDB's JSON is LONGTEXT plus an automatic column CHECK
		// constraint json_valid(`col`); that constraint is the only trace
		// of the type.
		rows, err = q.query(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
			WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, db, table)
		if err != nil {
			return nil, fmt.Errorf("read check constraints of %s.%s: %w", db, table, err)
		}
		for _, r := range rows {
			for i := range t.cols {
				c := &t.cols[i]
				if strings.HasSuffix(c.dataType, "text") && r[0].s == "json_valid(`"+strings.ReplaceAll(c.name, "`", "``")+"`)" {
					c.json = true
				}
			}
		}
	}
	return t, nil
}

// loadCollations reads the server's collations by id, with their character
// set and its bytes per character. MariaDB 10.10+ lists the ids of its
// charset-specific UCA 14.0 collations (utf8mb4_uca1400_ai_ci...) only in
// COLLATION_CHARACTER_SET_APPLICABILITY.
func loadCollations(ctx context.Context, q *sqlConn) (map[uint64]collationInfo, error) {
	out := map[uint64]collationInfo{}
	add := func(rows [][]sqlValue) {
		for _, r := range rows {
			if len(r) < 4 || r[0].null {
				continue
			}
			id, err := strconv.ParseUint(r[0].s, 10, 64)
			if err != nil {
				continue
			}
			maxLen, _ := strconv.Atoi(r[3].s)
			out[id] = collationInfo{name: r[1].s, charset: r[2].s, maxLen: max(maxLen, 1)}
		}
	}
	rows, err := q.query(ctx, `SELECT co.ID, co.COLLATION_NAME, co.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATIONS co JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = co.CHARACTER_SET_NAME WHERE co.ID IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	add(rows)
	// MariaDB 10.10+ only; an error (older servers, MySQL) just means there
	// is nothing more to learn.
	if rows, err := q.query(ctx, `SELECT a.ID, a.FULL_COLLATION_NAME, a.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY a JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = a.CHARACTER_SET_NAME WHERE a.ID IS NOT NULL`); err == nil {
		add(rows)
	} else if q.c == nil {
		return nil, fmt.Errorf("read collations: %w", err) // the connection broke
	}
	return out, nil
}

// serverVersion parses "10.11.19-MariaDB-0+deb12u1-log" or "8.0.36".
func serverVersion(v string) (major, minor int) {
	v = strings.TrimPrefix(v, "5.5.5-") // MariaDB's replication handshake prefix
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	return leadingInt(parts[0]), leadingInt(parts[1])
}

func leadingInt(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
