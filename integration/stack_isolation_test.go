package integration

import (
	"strings"
	"testing"
)

// Every shard has a tmpdir of its own (a starting mariadbd deletes the #sql*
// files in its tmpdir, a neighbour's included) and serves TLS.
func TestStackShardsHaveOwnTmpdirAndTLS(t *testing.T) {
	s := stackEnv(t)
	seen := map[string]int{}
	for i := range s.Shards {
		db := s.adminDB(t, i)
		var tmpdir, datadir, ssl string
		if err := db.QueryRow("SELECT @@tmpdir, @@datadir, @@have_ssl").Scan(&tmpdir, &datadir, &ssl); err != nil {
			t.Fatal(err)
		}
		shardDir := strings.TrimSuffix(strings.TrimSuffix(datadir, "/"), "/data")
		if !strings.HasPrefix(tmpdir, shardDir+"/") {
			t.Errorf("shard%d: tmpdir %s is outside its directory %s", i+1, tmpdir, shardDir)
		}
		if j, dup := seen[tmpdir]; dup {
			t.Errorf("shard%d and shard%d share the tmpdir %s", j+1, i+1, tmpdir)
		}
		seen[tmpdir] = i
		if ssl != "YES" {
			t.Errorf("shard%d: have_ssl = %s, want YES (restart it: stack/stack restart shard%d)", i+1, ssl, i+1)
		}
	}
}
