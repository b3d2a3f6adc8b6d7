package daemon

import "testing"

func TestTableFilter(t *testing.T) {
	f := newTableFilter([]TableFilter{
		{Database: "shop_shard_*", Exclude: []string{"tmp_*"}},
		{Database: "billing", Include: []string{"invoices", "pay*"}},
	})
	cases := []struct {
		db, table string
		want      bool
	}{
		{"shop_shard_1", "orders", true},
		{"shop_shard_12", "tmp_orders", false},
		{"shop", "orders", false},
		{"billing", "invoices", true},
		{"billing", "payments", true},
		{"billing", "ledger", false},
		{"mysql", "user", false},
	}
	for _, c := range cases {
		if got := f.Allowed(c.db, c.table); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", c.db, c.table, got, c.want)
		}
	}
	if newTableFilter([]TableFilter{{Database: "*"}}).Allowed("information_schema", "tables") {
		t.Error("a system database was allowed by '*'")
	}
}
