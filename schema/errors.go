package schema

import "fmt"

// UnsupportedTypeError is returned for a column whose type Tidemark cannot
// map to Avro. It is terminal for the connector: dropping the column would
// silently lose data.
type UnsupportedTypeError struct {
	Shard   string // filled in by the caller that knows it; may be empty
	Table   string // database.table
	Column  string
	RawType string
}

func (e *UnsupportedTypeError) Error() string {
	where := e.Table
	if e.Shard != "" {
		where = "shard " + e.Shard + " table " + e.Table
	} else {
		where = "table " + e.Table
	}
	t := e.RawType
	if t == "" {
		t = "an unknown type"
	}
	return fmt.Sprintf("%s column %s: unsupported column type %s", where, e.Column, t)
}
