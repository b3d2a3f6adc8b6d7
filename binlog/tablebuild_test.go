package binlog

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// smallTableMap is the fixture table map of tidemark_fixture.t (id INT
// PRIMARY KEY, v VARCHAR(10) utf8mb4), full metadata.
func smallTableMap(t *testing.T) *replication.TableMapEvent {
	t.Helper()
	s, _ := testSession(t, nil)
	for _, ev := range parseFixture(t, fixtureParser(t, s.r, s.filter), readFixture(t, "small_tx.events")) {
		if tm, ok := ev.Event.(*replication.TableMapEvent); ok {
			return tm
		}
	}
	t.Fatal("no table map in the fixture")
	return nil
}

// minimal strips what binlog_row_metadata=FULL adds to a table map.
func minimal(tm *replication.TableMapEvent) *replication.TableMapEvent {
	c := *tm
	c.ColumnName, c.PrimaryKey, c.PrimaryKeyPrefix = nil, nil, nil
	c.EnumStrValue, c.SetStrValue = nil, nil
	return &c
}

var testEnv = &mysql.TableEnv{Shard: "s1", Flavor: change.FlavorMariaDB, Collations: testCollations, Major: 10, Minor: 11}

func TestBuildTableFallback(t *testing.T) {
	tm := smallTableMap(t)
	is := &mysql.CatalogTable{Columns: []mysql.CatalogColumn{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "v", DataType: "varchar", ColumnType: "varchar(10)", Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
	}, PrimaryKey: []string{"id"}}
	full, _, err := mysql.BuildTable(testEnv, tm, is)
	if err != nil {
		t.Fatal(err)
	}
	fallback, conv, err := mysql.BuildTable(testEnv, minimal(tm), is)
	if err != nil {
		t.Fatal(err)
	}
	if !mysql.SameTable(full, fallback) || !reflect.DeepEqual(full, fallback) {
		t.Errorf("fallback table\n%+v\ndiffers from full metadata\n%+v", fallback, full)
	}
	if len(conv) != 2 || conv[1].Kind != mysql.KindText {
		t.Errorf("converters %+v", conv)
	}

	// The race: information_schema shows a table that changed since.
	changed := &mysql.CatalogTable{Columns: append(append([]mysql.CatalogColumn{}, is.Columns...), mysql.CatalogColumn{Name: "w", DataType: "int"}), PrimaryKey: is.PrimaryKey}
	_, _, err = mysql.BuildTable(testEnv, minimal(tm), changed)
	if !errors.Is(err, ErrSchemaUnknown) || !strings.Contains(err.Error(), "binlog_row_metadata=FULL") {
		t.Errorf("column count mismatch: %v", err)
	}
	retyped := &mysql.CatalogTable{Columns: []mysql.CatalogColumn{is.Columns[0], {Name: "v", DataType: "int", ColumnType: "int(11)"}}, PrimaryKey: is.PrimaryKey}
	_, _, err = mysql.BuildTable(testEnv, minimal(tm), retyped)
	if !errors.Is(err, ErrSchemaUnknown) || !strings.Contains(err.Error(), "changed after this event") {
		t.Errorf("type mismatch: %v", err)
	}
	if _, _, err := mysql.BuildTable(testEnv, minimal(tm), nil); !errors.Is(err, ErrSchemaUnknown) {
		t.Errorf("no names anywhere: %v", err)
	}
	// With full metadata, a changed information_schema only loses its
	// enrichment.
	if got, _, err := mysql.BuildTable(testEnv, tm, changed); err != nil || got.Columns[1].RawType != "varchar(10)" {
		t.Errorf("full metadata with a changed information_schema: %v %+v", err, got)
	}
}

// oneColumnMap is a synthetic table map db.t with a single column.
func oneColumnMap(tp byte, meta uint16, collation uint64) *replication.TableMapEvent {
	tm := &replication.TableMapEvent{
		TableID: 7, Schema: []byte("db"), Table: []byte("t"), ColumnCount: 1,
		ColumnType: []byte{tp}, ColumnMeta: []uint16{meta}, NullBitmap: []byte{1},
		ColumnName: [][]byte{[]byte("c")},
	}
	if collation != 0 {
		tm.DefaultCharset = []uint64{collation}
	}
	return tm
}

func TestBuildTableTypesTheBinlogHides(t *testing.T) {
	binary16 := oneColumnMap(gomysql.MYSQL_TYPE_STRING, 0xfe10, 63)
	is := func(dataType string) *mysql.CatalogTable {
		return &mysql.CatalogTable{Columns: []mysql.CatalogColumn{{Name: "c", DataType: dataType, ColumnType: dataType}}}
	}
	tbl, conv, err := mysql.BuildTable(testEnv, binary16, is("uuid"))
	if err != nil || conv[0].Kind != mysql.KindUUID || tbl.Columns[0].Type != schema.TypeChar || tbl.Columns[0].RawType != "uuid" {
		t.Fatalf("uuid: %v %+v %+v", err, conv, tbl)
	}
	if _, conv, err := mysql.BuildTable(testEnv, binary16, is("inet6")); err != nil || conv[0].Kind != mysql.KindInet6 {
		t.Fatalf("inet6: %v", err)
	}
	if _, conv, err := mysql.BuildTable(testEnv, oneColumnMap(gomysql.MYSQL_TYPE_STRING, 0xfe04, 63), is("inet4")); err != nil || conv[0].Kind != mysql.KindInet4 {
		t.Fatalf("inet4: %v", err)
	}
	if _, conv, err := mysql.BuildTable(testEnv, binary16, is("binary")); err != nil || conv[0].Kind != mysql.KindBinaryFixed || conv[0].Length != 16 {
		t.Fatalf("binary(16): %v", err)
	}
	if _, conv, err := mysql.BuildTable(testEnv, binary16, nil); err != nil || conv[0].Kind != mysql.KindBinaryFixed {
		t.Fatalf("binary(16) without information_schema: %v", err)
	}
	longtext := oneColumnMap(gomysql.MYSQL_TYPE_BLOB, 4, 46)
	jsonIS := is("longtext")
	jsonIS.Columns[0].JSON = true
	// MariaDB's JSON is LONGTEXT to Debezium too: a plain string.
	if tbl, conv, err := mysql.BuildTable(testEnv, longtext, jsonIS); err != nil || conv[0].Kind != mysql.KindText || tbl.Columns[0].Type != schema.TypeText {
		t.Fatalf("mariadb json: %v", err)
	}

	old := *testEnv
	old.Major, old.Minor = 10, 9
	unsupported := []struct {
		name string
		env  *mysql.TableEnv
		tm   *replication.TableMapEvent
		is   *mysql.CatalogTable
		raw  string
	}{
		{"uuid before 10.11", &old, binary16, is("uuid"), "uuid"},
		{"unknown data-type plugin", testEnv, binary16, is("xmltype"), "xmltype"},
		{"charset without exact decoder", testEnv, oneColumnMap(gomysql.MYSQL_TYPE_VARCHAR, 40, 999), &mysql.CatalogTable{Columns: []mysql.CatalogColumn{{Name: "c", DataType: "varchar", ColumnType: "varchar(40)", Charset: "armscii8", Collation: "armscii8_general_ci"}}}, "armscii8"},
		{"vector", testEnv, oneColumnMap(gomysql.MYSQL_TYPE_VECTOR, 4, 0), nil, "vector"},
		{"pre-5.0 decimal", testEnv, oneColumnMap(gomysql.MYSQL_TYPE_DECIMAL, 0, 0), nil, "binlog type 0"},
	}
	for _, u := range unsupported {
		_, _, err := mysql.BuildTable(u.env, u.tm, u.is)
		var ute *schema.UnsupportedTypeError
		if !errors.As(err, &ute) || ute.Shard != "s1" || ute.Table != "db.t" || ute.Column != "c" || !strings.Contains(ute.RawType, u.raw) {
			t.Errorf("%s: %v (%+v)", u.name, err, ute)
		}
	}
}

func TestTableCacheKeepsPointerWhileShapeUnchanged(t *testing.T) {
	s, _ := testSession(t, nil)
	ctx := context.Background()
	tm := smallTableMap(t)
	a, err := s.tables.resolve(ctx, s.sql, tm)
	if err != nil {
		t.Fatal(err)
	}
	again := *tm // the next transaction's identical table map
	again.TableID = 99
	b, err := s.tables.resolve(ctx, s.sql, &again)
	if err != nil || b.table != a.table {
		t.Fatalf("identical table map: %v, same pointer %v", err, b.table == a.table)
	}
	// A DDL naming the table forces a rebuild; the same shape keeps the
	// pointer.
	s.tables.invalidate("ALTER TABLE t COMMENT 'x'", "tidemark_fixture")
	s.tables.is["tidemark_fixture.t"] = nil // (what the reload would find)
	c, err := s.tables.resolve(ctx, s.sql, &again)
	if err != nil || c == b || c.table != a.table {
		t.Fatalf("after DDL: %v, rebuilt %v, same pointer %v", err, c != b, c.table == a.table)
	}
	// A new shape gets a new pointer.
	wider := again
	wider.ColumnMeta = []uint16{0, 80}
	d, err := s.tables.resolve(ctx, s.sql, &wider)
	if err != nil || d.table == a.table || d.table.Columns[1].Length != 20 {
		t.Fatalf("new shape: %v %+v", err, d.table)
	}
}

// A reader behind a DDL (information_schema has a column the event has not)
// keeps each column's enrichment by name: the UUID column of a pre-ALTER row
// is still a UUID, and the guess is reported.
func TestBuildTableBehindADDL(t *testing.T) {
	uuidCol := oneColumnMap(gomysql.MYSQL_TYPE_STRING, 0xfe10, 63)
	after := &mysql.CatalogTable{Columns: []mysql.CatalogColumn{
		{Name: "c", DataType: "uuid", ColumnType: "uuid"},
		{Name: "added", DataType: "int", ColumnType: "int(11)"},
	}}
	tbl, conv, err := mysql.BuildTable(testEnv, uuidCol, after)
	if err != nil || conv[0].Kind != mysql.KindUUID || tbl.Columns[0].RawType != "uuid" || len(tbl.Columns) != 1 {
		t.Fatalf("behind an ADD COLUMN: %v %+v", err, tbl)
	}
	if got := mysql.UncertainColumns(uuidCol, after, tbl); len(got) != 1 || got[0] != "c" {
		t.Errorf("uncertain columns %v, want [c]", got)
	}
	// The column is gone from information_schema (dropped since): plain
	// bytes, and uncertain too.
	dropped := &mysql.CatalogTable{Columns: []mysql.CatalogColumn{{Name: "other", DataType: "int", ColumnType: "int(11)"}}}
	tbl, conv, err = mysql.BuildTable(testEnv, uuidCol, dropped)
	if err != nil || conv[0].Kind != mysql.KindBinaryFixed {
		t.Fatalf("column dropped since: %v %+v", err, conv)
	}
	if got := mysql.UncertainColumns(uuidCol, dropped, tbl); len(got) != 1 {
		t.Errorf("uncertain columns %v, want [c]", got)
	}
	// Caught up (same shape): nothing is guessed.
	same := &mysql.CatalogTable{Columns: []mysql.CatalogColumn{{Name: "c", DataType: "uuid", ColumnType: "uuid"}}}
	tbl, _, _ = mysql.BuildTable(testEnv, uuidCol, same)
	if got := mysql.UncertainColumns(uuidCol, same, tbl); got != nil {
		t.Errorf("uncertain columns %v for a table unchanged since", got)
	}
}
