package mysql

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/schema"
)

// FuzzParseMariaGTIDList: @@gtid_binlog_state, @@gtid_binlog_pos and
// stored positions are server or Kafka bytes. The parser never panics, its
// output is sorted by domain, and parse(format(x)) == x.
func FuzzParseMariaGTIDList(f *testing.F) {
	for _, s := range []string{
		"0-1-42",              // @@gtid_binlog_pos of the stack's MariaDB 10.11 after 42 transactions
		"0-1-42,1-2-7",        // two domains
		"0-1-40,0-2-42,1-2-7", // @@gtid_binlog_state: one per domain and server
		" 0-1-1 , 3-3-3 ",     // spaces around elements
		"4294967295-4294967295-18446744073709551615", // the largest
		"4294967296-1-1", "0-1", "0--1", "-1-1-1", "0-1-1,", ",", "+1-1-1", "0-1-1-1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseMariaGTIDList(s)
		if err != nil {
			if list != nil {
				t.Fatalf("error %v with %v", err, list)
			}
			return
		}
		if !slices.IsSortedFunc(list, func(a, b MariaGTID) int { return int64cmp(int64(a.Domain), int64(b.Domain)) }) {
			t.Fatalf("%q: not sorted by domain: %v", s, list)
		}
		text := FormatMariaGTIDs(list)
		again, err := ParseMariaGTIDList(text)
		if err != nil || !reflect.DeepEqual(again, list) {
			t.Fatalf("%q -> %v -> %q -> %v (%v)", s, list, text, again, err)
		}
		pos, err := ParseMariaGTIDs(s)
		if err == nil {
			for i := 1; i < len(pos); i++ {
				if pos[i].Domain == pos[i-1].Domain {
					t.Fatalf("position %q accepted with two GTIDs of domain %d", s, pos[i].Domain)
				}
			}
		}
	})
}

// FuzzParseEnumMembers: information_schema's COLUMN_TYPE never panics the
// parser, and members quoted back the way MariaDB prints them parse to the
// same members.
func FuzzParseEnumMembers(f *testing.F) {
	for _, s := range []string{
		`enum('a','it''s','b\\c','x,y','é')`, `set('p','q''r')`, `enum('')`, `enum('\n\0\Z')`,
		"enum", "enum('a'", "enum('a' 'b')", "enum(a)", `enum('\`, "(", ")", "()",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, err := parseEnumMembers(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(members))
		for i, m := range members {
			m = strings.ReplaceAll(m, `\`, `\\`)
			quoted[i] = "'" + strings.ReplaceAll(m, "'", "''") + "'"
		}
		text := "enum(" + strings.Join(quoted, ",") + ")"
		again, err := parseEnumMembers(text)
		if err != nil || !slices.Equal(again, members) {
			t.Fatalf("%q -> %q -> %q -> %q (%v)", s, members, text, again, err)
		}
	})
}

// defaultColumns are column types whose COLUMN_DEFAULT ColumnDefault reads.
var defaultColumns = []schema.Column{
	{Type: schema.TypeInt}, {Type: schema.TypeInt, Unsigned: true}, {Type: schema.TypeTinyInt},
	{Type: schema.TypeSmallInt, Unsigned: true}, {Type: schema.TypeBigInt}, {Type: schema.TypeBigInt, Unsigned: true},
	{Type: schema.TypeDecimal, Precision: 10, Scale: 2}, {Type: schema.TypeDecimal, Precision: 65, Scale: 30},
	{Type: schema.TypeFloat}, {Type: schema.TypeFloat, Scale: 3}, {Type: schema.TypeDouble},
	{Type: schema.TypeBit, Length: 1}, {Type: schema.TypeBit, Length: 12}, {Type: schema.TypeBit, Length: 64},
	{Type: schema.TypeChar}, {Type: schema.TypeChar, Nullable: true},
	{Type: schema.TypeBinary, Length: 4, RawType: "binary(4)"}, {Type: schema.TypeBinary, Length: 4, RawType: "varbinary(4)"},
	{Type: schema.TypeEnum, Values: []string{"a", "b"}}, {Type: schema.TypeSet, Values: []string{"a", "b"}},
	{Type: schema.TypeYear}, {Type: schema.TypeDate}, {Type: schema.TypeTime}, {Type: schema.TypeTime, FSP: 6},
	{Type: schema.TypeDateTime, FSP: 6}, {Type: schema.TypeTimestamp, FSP: 3}, {Type: schema.TypeJSON},
}

// FuzzColumnDefault: COLUMN_DEFAULT is server text. ColumnDefault never
// panics on it, whatever the column's type; a default it reports is set.
func FuzzColumnDefault(f *testing.F) {
	// COLUMN_DEFAULT as MariaDB 10.11 prints it (mysql.TestColumnDefault).
	for i, s := range []string{"42", "NULL", "4294967295", "18446744073709551615", "-5", "3.10", "1.250", "1.5",
		"b'101'", "b'1'", `'it''s "q"'`, `'a\\b\nc'`, `'ab\0\0'`, "'\x01\x02'", "'b'", "2024", "'2024-02-29'",
		"'0000-00-00'", "'-01:02:03'", "'2024-01-02 03:04:05.123456'", "current_timestamp()", "current_timestamp(3)",
		"(1 + 1)", "'a,b'", "b''", "b'1111111111111111111111111111111111111111111111111111111111111111'", "1e400", "'"} {
		f.Add(uint8(i), s, false)
		f.Add(uint8(i*7), s, true)
	}
	f.Fuzz(func(t *testing.T, which uint8, text string, null bool) {
		col := defaultColumns[int(which)%len(defaultColumns)]
		col.Name = "c"
		var p *string
		if !null {
			p = &text
		}
		if err := ColumnDefault(&col, p); err != nil {
			return
		}
		if !col.HasDefault && (col.Default != nil || col.DebeziumDefault != nil) {
			t.Fatalf("%v %q: no default, yet %#v / %#v", col.Type, text, col.Default, col.DebeziumDefault)
		}
	})
}
