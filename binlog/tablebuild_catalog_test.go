package binlog

import (
	"reflect"
	"testing"

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
	full, fullConv, err := mysql.BuildTable(testEnv, tm, is)
	if err != nil {
		t.Fatal(err)
	}
	got, conv, err := mysql.TableFromCatalog(testEnv, "tidemark_fixture", "t", is)
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
