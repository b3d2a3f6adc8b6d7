package daemon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
)

// The external sort keeps the last value added for each key, in key order,
// whether everything fits in memory or is spilled into many runs.
func TestKeySorterLastWins(t *testing.T) {
	for _, limit := range []int64{1 << 30, 2048} {
		dir := t.TempDir()
		s := newKeySorter(dir, limit)
		want := map[string]string{}
		for i := range 20000 {
			k := fmt.Sprintf("k%05d", rand.IntN(3000))
			v := fmt.Sprintf("v%d", i)
			if err := s.Add([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			want[k] = v
		}
		if limit < 1<<20 && len(s.runs) < 10 {
			t.Fatalf("limit %d: %d runs, want many", limit, len(s.runs))
		}
		it, err := s.Iterator()
		if err != nil {
			t.Fatal(err)
		}
		prev, n := "", 0
		for {
			ok, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			k, v := string(it.Key()), string(it.Value())
			if k <= prev {
				t.Fatalf("limit %d: %q after %q", limit, k, prev)
			}
			if want[k] != v {
				t.Fatalf("limit %d: key %s = %s, want the last added %s", limit, k, v, want[k])
			}
			prev = k
			n++
		}
		it.Close()
		if n != len(want) {
			t.Fatalf("limit %d: %d keys, want %d", limit, n, len(want))
		}
		s.Close()
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("limit %d: %d sort runs left behind", limit, len(left))
		}
	}
}

// Rows compare field by field: equal values match in any map order; a
// field the record lacks (a column added since) is not compared; a field
// only the record has (a dropped column) is ignored.
func TestRowDigests(t *testing.T) {
	row := map[string]any{"id": int64(1), "name": "a", "amount": serde.Decimal{}, "b": []byte{0}}
	same := map[string]any{"b": []byte{0}, "amount": serde.Decimal{}, "name": "a", "id": int64(1)}
	if eq, added := digestsMatch(digestOf(row), digestOf(same)); !eq || added {
		t.Fatalf("equal rows: equal %v added %v", eq, added)
	}
	older := map[string]any{"id": int64(1), "name": "a", "b": []byte{0}, "gone": "x"}
	if eq, added := digestsMatch(digestOf(row), digestOf(older)); !eq || !added {
		t.Fatalf("record before ADD COLUMN: equal %v added %v", eq, added)
	}
	changed := map[string]any{"id": int64(1), "name": "b", "amount": serde.Decimal{}, "b": []byte{0}}
	if eq, _ := digestsMatch(digestOf(row), digestOf(changed)); eq {
		t.Fatal("rows with different names match")
	}
	str := map[string]any{"id": int64(1), "name": "a", "amount": serde.Decimal{}, "b": "\x00"}
	if eq, _ := digestsMatch(digestOf(row), digestOf(str)); eq {
		t.Fatal("bytes and string compare equal")
	}
}

// A key only the topic has is looked up with the table's key parameters.
func TestSQLKey(t *testing.T) {
	tbl := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: schema.TypeBigInt, Unsigned: true}, {Name: "d", Type: schema.TypeDate}, {Name: "bin", Type: schema.TypeBinary},
	}, PrimaryKey: []int{0, 1, 2}}
	k, err := sqlKey(tbl, map[string]any{"id": int64(-1), "d": int32(19000), "bin": []byte{1, 2}, "shard": "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(k[0].Param(), " ", k[1].Param(), " ", k[2].String()); got != "18446744073709551615 2022-01-08 0x0102" {
		t.Fatalf("key params %s", got)
	}
	if _, err := sqlKey(tbl, map[string]any{"id": int64(1)}); err == nil {
		t.Fatal("a key without all columns gave parameters")
	}
}

// BenchmarkKeySorter: adding and merging entries of a verify's size (a
// key, a 6-column digest), spilling to disk as a large table does.
func BenchmarkKeySorter(b *testing.B) {
	val := make([]byte, 90)
	b.ReportAllocs()
	s := newKeySorter(b.TempDir(), 8<<20)
	defer s.Close()
	for i := 0; b.Loop(); i++ {
		if err := s.Add(fmt.Appendf(nil, `{"id":%d}`, (i*7919)%1_000_003), val); err != nil {
			b.Fatal(err)
		}
	}
	it, err := s.Iterator()
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	for {
		ok, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			break
		}
	}
}
