package daemon

import (
	"path"
	"strings"
)

// systemDatabases are never captured, whatever the allow-list says.
var systemDatabases = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
}

// tableFilter is a shard's allow-list as a predicate for the binlog reader
// (which caches its answers per table).
type tableFilter struct {
	rules []TableFilter
}

func newTableFilter(rules []TableFilter) *tableFilter {
	return &tableFilter{rules: rules}
}

// Allowed reports whether a table is captured: some rule's database pattern
// matches, one of its include patterns matches the table (all tables when
// it has none) and none of its exclude patterns does.
func (f *tableFilter) Allowed(database, table string) bool {
	if systemDatabases[strings.ToLower(database)] {
		return false
	}
	for _, r := range f.rules {
		if !glob(r.Database, database) {
			continue
		}
		included := len(r.Include) == 0
		for _, p := range r.Include {
			if glob(p, table) {
				included = true
				break
			}
		}
		for _, p := range r.Exclude {
			if glob(p, table) {
				included = false
				break
			}
		}
		if included {
			return true
		}
	}
	return false
}

// glob matches a shell pattern; patterns were validated with the config.
func glob(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}
