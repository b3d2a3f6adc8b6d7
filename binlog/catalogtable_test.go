package binlog

import (
	"reflect"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/tidemark-cdc/tidemark/mysql"
)

// The catalog's view of the fixture table builds the same table and
// converters as the binlog's own table map (full metadata).
func TestTableFromCatalogMatchesTableMap(t *testing.T) {
	tm := smallTableMap(t)
	is := &mysql.CatalogTable{Columns: []mysql.CatalogColumn{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "v", DataType: "varchar", ColumnType: "varchar(10)", Charset: "utf8mb4", Collation: "utf8mb4_general_ci", Nullable: true, OctetLength: 40},
	}, PrimaryKey: []string{"id"}}
	full, fullConv, err := buildTable(testEnv, tm, is)
	if err != nil {
		t.Fatal(err)
	}
	got, conv, err := TableFromCatalog(&TableEnv{env: *testEnv}, "tidemark_fixture", "t", is)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(full, got) {
		t.Errorf("catalog table\n%+v\ndiffers from the table map's\n%+v", got, full)
	}
	if !reflect.DeepEqual(fullConv, conv) {
		t.Errorf("catalog converters\n%+v\ndiffer from the table map's\n%+v", conv, fullConv)
	}
}

// stringTypeMeta is stringMeta's inverse, for every length a CHAR/BINARY
// column can have (up to 255 characters of 4 bytes).
func TestStringTypeMetaRoundTrip(t *testing.T) {
	for _, real := range []byte{gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET} {
		for n := 0; n <= 1020; n++ {
			if real != gomysql.MYSQL_TYPE_STRING && n > 8 {
				break
			}
			gotType, gotLen := stringMeta(stringTypeMeta(real, n))
			if gotType != real || gotLen != n {
				t.Fatalf("stringMeta(stringTypeMeta(%d, %d)) = %d, %d", real, n, gotType, gotLen)
			}
		}
	}
}
