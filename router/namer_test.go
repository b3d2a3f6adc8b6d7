package router

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestTopicNamer(t *testing.T) {
	shards := []Rewrite{{Match: `shop_shard_\d+`, Replace: `shop`}}
	tests := []struct {
		name     string
		prefix   string
		rewrites []Rewrite
		opts     []NamerOption
		database string
		table    string
		want     string
	}{
		{"no rewrites", "cdc", nil, nil, "inventory", "customers", "cdc.inventory.customers"},
		{"shard to logical", "cdc", shards, nil, "shop_shard_17", "orders", "cdc.shop.orders"},
		{"anchored: prefix of name does not match", "cdc", shards, nil, "shop_shard_17_archive", "orders", "cdc.shop_shard_17_archive.orders"},
		{"anchored: suffix of name does not match", "cdc", shards, nil, "old_shop_shard_1", "orders", "cdc.old_shop_shard_1.orders"},
		{"no match keeps database", "cdc", shards, nil, "billing", "invoices", "cdc.billing.invoices"},
		{"group reference", "cdc", []Rewrite{{Match: `(\w+)_shard_\d+`, Replace: `$1`}}, nil, "crm_shard_003", "leads", "cdc.crm.leads"},
		{"named group", "cdc", []Rewrite{{Match: `(?P<app>[a-z]+)_\d+`, Replace: `${app}_all`}}, nil, "crm_7", "leads", "cdc.crm_all.leads"},
		{"braced group followed by text", "cdc", []Rewrite{{Match: `([a-z]+)_\d+`, Replace: `${1}x`}}, nil, "crm_7", "t", "cdc.crmx.t"},
		{"literal dollar becomes underscore", "cdc", []Rewrite{{Match: `a`, Replace: `$$b`}}, nil, "a", "t", "cdc._b.t"},
		{"first match wins", "cdc", []Rewrite{
			{Match: `shop_shard_0`, Replace: `shop_primary`},
			{Match: `shop_shard_\d+`, Replace: `shop`},
		}, nil, "shop_shard_0", "orders", "cdc.shop_primary.orders"},
		{"second rule when first does not match", "cdc", []Rewrite{
			{Match: `shop_shard_0`, Replace: `shop_primary`},
			{Match: `shop_shard_\d+`, Replace: `shop`},
		}, nil, "shop_shard_9", "orders", "cdc.shop.orders"},
		{"alternation is anchored as a whole", "cdc", []Rewrite{{Match: `a|b`, Replace: `x`}}, nil, "ab", "t", "cdc.ab.t"},
		{"empty prefix", "", shards, nil, "shop_shard_1", "orders", "shop.orders"},
		{"delimiter", "cdc", shards, []NamerOption{WithDelimiter("_")}, "shop_shard_1", "orders", "cdc_shop_orders"},
		{"invalid characters sanitised", "cdc", nil, nil, "my$db", "tāble name", "cdc.my_db.t_ble_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewTopicNamer(tt.prefix, tt.rewrites, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second call is served from the cache
				if got := n.Topic(tt.database, tt.table); got != tt.want {
					t.Fatalf("Topic(%q, %q) = %q, want %q", tt.database, tt.table, got, tt.want)
				}
			}
		})
	}
}

func TestNewTopicNamerRejects(t *testing.T) {
	tests := []struct {
		name     string
		rewrites []Rewrite
		opts     []NamerOption
		want     string
	}{
		{"bad regexp", []Rewrite{{Match: `shop_(`, Replace: `shop`}}, nil, "rewrite 1: match"},
		{"group out of range", []Rewrite{{Match: `(a)_\d+`, Replace: `$2`}}, nil, "refers to group 2"},
		{"unknown name", []Rewrite{{Match: `(?P<app>a)`, Replace: `${ap}`}}, nil, `group "ap"`},
		{"$1x is a name, not group 1", []Rewrite{{Match: `(a)`, Replace: `$1x`}}, nil, "${1}x"},
		{"unterminated brace", []Rewrite{{Match: `(a)`, Replace: `${1`}}, nil, "unterminated"},
		{"lone dollar", []Rewrite{{Match: `a`, Replace: `x$`}}, nil, "$$"},
		{"reports every rewrite", []Rewrite{{Match: `(`, Replace: ``}, {Match: `a`, Replace: `$1`}}, nil, "rewrite 2"},
		{"empty delimiter", nil, []NamerOption{WithDelimiter("")}, "delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTopicNamer("cdc", tt.rewrites, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewTopicNamer error = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTopicNamerConcurrent(t *testing.T) {
	n, err := NewTopicNamer("cdc", []Rewrite{{Match: `s_\d+`, Replace: `s`}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				db := []string{"s_1", "s_2", "s_3"}[(i+g)%3]
				if got := n.Topic(db, "t"); got != "cdc.s.t" {
					t.Errorf("Topic(%q) = %q", db, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTopicNamerHitDoesNotAllocate(t *testing.T) {
	n, _ := NewTopicNamer("cdc", []Rewrite{{Match: `shop_shard_\d+`, Replace: `shop`}})
	db, table := "shop_shard_12", "orders"
	n.Topic(db, table)
	if allocs := testing.AllocsPerRun(100, func() { n.Topic(db, table) }); allocs != 0 {
		t.Fatalf("Topic on a cached name: %v allocations, want 0", allocs)
	}
}

func BenchmarkTopicNamerHit(b *testing.B) {
	n, _ := NewTopicNamer("cdc", []Rewrite{{Match: `shop_shard_\d+`, Replace: `shop`}})
	n.Topic("shop_shard_12", "orders")
	b.ReportAllocs()
	for b.Loop() {
		n.Topic("shop_shard_12", "orders")
	}
}
