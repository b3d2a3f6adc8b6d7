package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidemark-cdc/tidemark/change"
)

// Reading table metadata from information_schema: off the per-row path,
// once per new table shape. information_schema shows a table as it is NOW,
// not as it was when a binlog event was written; mysql/tablebuild.go says
// how the reader copes with that.

// Collation is a server collation: its name, character set, and the
// character set's bytes per character.
type Collation struct {
	Name    string
	Charset string
	MaxLen  int
}

// CatalogColumn is a column as information_schema.COLUMNS shows it.
type CatalogColumn struct {
	Name       string
	DataType   string // lower case: "int", "uuid", "longtext"
	ColumnType string // "int(10) unsigned", "enum('a','b')"
	Charset    string
	Collation  string
	JSON       bool // MariaDB: CHECK (json_valid(`col`))
	// Default is COLUMN_DEFAULT as the server prints it (see defaults.go);
	// nil when the column has no DEFAULT.
	Default *string
	// Scale is NUMERIC_SCALE: FLOAT(7,3) has 3; 0 when the server shows
	// none (FLOAT, DOUBLE, non-numeric columns).
	Scale int
	// Nullable is IS_NULLABLE; Precision NUMERIC_PRECISION (DECIMAL digits,
	// BIT width); FSP DATETIME_PRECISION; OctetLength CHARACTER_OCTET_LENGTH
	// (the bytes of CHAR/VARCHAR/BINARY). What a snapshot needs to describe
	// the column the way a table-map event does (TableFromCatalog).
	Nullable    bool
	Precision   int
	FSP         int
	OctetLength int64
}

// CatalogTable is a table as information_schema shows it.
type CatalogTable struct {
	Columns []CatalogColumn
	// PrimaryKey is the key's column names, in key order: the PRIMARY KEY,
	// or for a table without one its first UNIQUE index over NOT NULL
	// columns (whole columns, no prefix), which is what InnoDB itself
	// clusters such a table by. KeyIndex names the index ("PRIMARY").
	PrimaryKey []string
	KeyIndex   string
}

// LoadTable reads db.table from information_schema; nil when the table does
// not exist (any more).
func LoadTable(ctx context.Context, q *Conn, flavor change.Flavor, db, table string) (*CatalogTable, error) {
	rows, err := q.Query(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME,
		COLUMN_DEFAULT, NUMERIC_SCALE, IS_NULLABLE, NUMERIC_PRECISION, DATETIME_PRECISION, CHARACTER_OCTET_LENGTH
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", db, table, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	t := &CatalogTable{Columns: make([]CatalogColumn, len(rows))}
	for i, r := range rows {
		if len(r) < 11 {
			return nil, fmt.Errorf("read columns of %s.%s: short row", db, table)
		}
		t.Columns[i] = CatalogColumn{
			Name: r[0].S, DataType: strings.ToLower(r[1].S), ColumnType: r[2].S,
			Charset: r[3].S, Collation: r[4].S,
		}
		if !r[5].Null {
			d := r[5].S
			t.Columns[i].Default = &d
		}
		if !r[6].Null {
			t.Columns[i].Scale, _ = strconv.Atoi(r[6].S)
		}
		t.Columns[i].Nullable = r[7].S == "YES"
		t.Columns[i].Precision, _ = strconv.Atoi(r[8].S)
		t.Columns[i].FSP, _ = strconv.Atoi(r[9].S)
		t.Columns[i].OctetLength, _ = strconv.ParseInt(r[10].S, 10, 64)
	}
	if err := loadKey(ctx, q, db, table, t); err != nil {
		return nil, err
	}
	if flavor == change.FlavorMariaDB {
		// MariaDB's JSON is LONGTEXT plus an automatic column CHECK
		// constraint json_valid(`col`); that constraint is the only trace
		// of the type.
		rows, err = q.Query(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
			WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, db, table)
		if err != nil {
			return nil, fmt.Errorf("read check constraints of %s.%s: %w", db, table, err)
		}
		for _, r := range rows {
			for i := range t.Columns {
				c := &t.Columns[i]
				if strings.HasSuffix(c.DataType, "text") && r[0].S == "json_valid(`"+strings.ReplaceAll(c.Name, "`", "``")+"`)" {
					c.JSON = true
				}
			}
		}
	}
	return t, nil
}

// loadKey fills t.PrimaryKey and t.KeyIndex from SHOW INDEX, which lists
// the indexes in the server's own key order (PRIMARY first, then the UNIQUE
// ones): the first unique index whose columns are all whole and NOT NULL.
func loadKey(ctx context.Context, q *Conn, db, table string, t *CatalogTable) error {
	rows, err := q.Query(ctx, "SHOW INDEX FROM "+QuoteIdent(db)+"."+QuoteIdent(table))
	if err != nil {
		return fmt.Errorf("read indexes of %s.%s: %w", db, table, err)
	}
	// Key_name, Non_unique, Seq_in_index, Column_name, Sub_part, Null are
	// columns 2, 1, 3, 4, 7, 9 of SHOW INDEX (MySQL and MariaDB alike).
	type index struct {
		cols   []string
		usable bool
	}
	var order []string
	byName := map[string]*index{}
	for _, r := range rows {
		if len(r) < 10 {
			return fmt.Errorf("read indexes of %s.%s: short row", db, table)
		}
		name := r[2].S
		ix := byName[name]
		if ix == nil {
			ix = &index{usable: r[1].S == "0"}
			byName[name] = ix
			order = append(order, name)
		}
		ix.cols = append(ix.cols, r[4].S)
		if !r[7].Null || r[9].S == "YES" || r[4].Null { // a prefix, a nullable column, an expression
			ix.usable = false
		}
	}
	for _, name := range order {
		if ix := byName[name]; ix.usable {
			t.PrimaryKey, t.KeyIndex = ix.cols, name
			return nil
		}
	}
	return nil
}

// LoadCollations reads the server's collations by id, with their character
// set and its bytes per character. MariaDB 10.10+ lists the ids of its
// charset-specific UCA 14.0 collations (utf8mb4_uca1400_ai_ci...) only in
// COLLATION_CHARACTER_SET_APPLICABILITY.
func LoadCollations(ctx context.Context, q *Conn) (map[uint64]Collation, error) {
	out := map[uint64]Collation{}
	add := func(rows [][]Value) {
		for _, r := range rows {
			if len(r) < 4 || r[0].Null {
				continue
			}
			id, err := strconv.ParseUint(r[0].S, 10, 64)
			if err != nil {
				continue
			}
			maxLen, _ := strconv.Atoi(r[3].S)
			out[id] = Collation{Name: r[1].S, Charset: r[2].S, MaxLen: max(maxLen, 1)}
		}
	}
	rows, err := q.Query(ctx, `SELECT co.ID, co.COLLATION_NAME, co.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATIONS co JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = co.CHARACTER_SET_NAME WHERE co.ID IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	add(rows)
	// MariaDB 10.10+ only; an error (older servers, MySQL) just means there
	// is nothing more to learn.
	if rows, err := q.Query(ctx, `SELECT a.ID, a.FULL_COLLATION_NAME, a.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY a JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = a.CHARACTER_SET_NAME WHERE a.ID IS NOT NULL`); err == nil {
		add(rows)
	} else if !q.Connected() {
		return nil, fmt.Errorf("read collations: %w", err) // the connection broke
	}
	return out, nil
}

// ServerVersion parses "10.11.19-MariaDB-0+deb12u1-log" or "8.0.36".
func ServerVersion(v string) (major, minor int) {
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
