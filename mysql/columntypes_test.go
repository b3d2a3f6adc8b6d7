package mysql

import (
	"reflect"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

func TestStringMeta(t *testing.T) {
	tests := []struct {
		meta     uint16
		realType byte
		length   int
	}{
		{0xfe08, gomysql.MYSQL_TYPE_STRING, 8},   // BINARY(8) / CHAR(8) latin1
		{0xfe28, gomysql.MYSQL_TYPE_STRING, 40},  // CHAR(10) utf8mb4
		{0xf701, gomysql.MYSQL_TYPE_ENUM, 1},     // ENUM, 1-byte index
		{0xf802, gomysql.MYSQL_TYPE_SET, 2},      // SET, 2-byte bitmap
		{0xdefc, gomysql.MYSQL_TYPE_STRING, 764}, // CHAR(191) utf8mb4: length above 255
		{0x0010, gomysql.MYSQL_TYPE_STRING, 16},  // old form
	}
	for _, tt := range tests {
		rt, l := stringMeta(tt.meta)
		if rt != tt.realType || l != tt.length {
			t.Errorf("stringMeta(%#x) = %d, %d; want %d, %d", tt.meta, rt, l, tt.realType, tt.length)
		}
	}
}

func TestParseEnumMembers(t *testing.T) {
	// COLUMN_TYPE as MariaDB 10.11 shows it for
	// ENUM('a','it''s','b\\c','x,y','é') and SET('p','q''r').
	tests := map[string][]string{
		`enum('a','it''s','b\\c','x,y','é')`: {"a", "it's", `b\c`, "x,y", "é"},
		`set('p','q''r')`:                    {"p", "q'r"},
		`enum('')`:                           {""},
		`enum('\n\0\Z')`:                     {"\n\x00\x1a"},
	}
	for in, want := range tests {
		got, err := parseEnumMembers(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseEnumMembers(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"enum", "enum('a'", "enum('a' 'b')", "enum(a)"} {
		if _, err := parseEnumMembers(bad); err == nil {
			t.Errorf("parseEnumMembers(%s) accepted", bad)
		}
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
