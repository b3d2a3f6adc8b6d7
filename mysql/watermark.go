package mysql

import (
	"context"
	"fmt"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/tidemark-cdc/tidemark/change"
)

// Watermarks: the server's current GTID position, and whether a position of
// the binlog stream has reached one. The snapshotter brackets each chunk
// read with two of them (DBLog's low and high watermarks, read-only).

// CurrentPosition reads the server's current GTID position: everything
// committed so far (MariaDB @@gtid_binlog_pos, MySQL @@gtid_executed).
func CurrentPosition(ctx context.Context, q *Conn, flavor change.Flavor) (change.Position, error) {
	stmt := "SELECT @@GLOBAL.gtid_binlog_pos"
	if flavor == change.FlavorMySQL {
		stmt = "SELECT @@GLOBAL.gtid_executed"
	}
	rows, err := q.Query(ctx, stmt)
	if err != nil {
		return change.Position{}, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return change.Position{}, fmt.Errorf("%s returned no value", stmt)
	}
	return change.Position{Flavor: flavor, GTIDSet: rows[0][0].S}, nil
}

// Reached reports whether the stream position at includes every transaction
// of mark: for MariaDB, at has at least mark's sequence number in each of
// mark's domains; for MySQL, at's GTID set contains mark's.
func Reached(flavor change.Flavor, at, mark string) (bool, error) {
	if flavor == change.FlavorMySQL {
		a, err := gomysql.ParseMysqlGTIDSet(at)
		if err != nil {
			return false, fmt.Errorf("position %q: %w", at, err)
		}
		m, err := gomysql.ParseMysqlGTIDSet(mark)
		if err != nil {
			return false, fmt.Errorf("watermark %q: %w", mark, err)
		}
		return a.Contain(m), nil
	}
	a, err := ParseMariaGTIDs(at)
	if err != nil {
		return false, fmt.Errorf("position %q: %w", at, err)
	}
	m, err := ParseMariaGTIDs(mark)
	if err != nil {
		return false, fmt.Errorf("watermark %q: %w", mark, err)
	}
	seq := make(map[uint32]uint64, len(a))
	for _, g := range a {
		seq[g.Domain] = g.Seq
	}
	for _, g := range m {
		if s, ok := seq[g.Domain]; !ok || s < g.Seq {
			return false, nil
		}
	}
	return true, nil
}
