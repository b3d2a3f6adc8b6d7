package mysql

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// ReplicaLag reads how far the server, when it is a replica, lags its
// primary (Seconds_Behind_Master, or Seconds_Behind_Source on MySQL 8.0.22+).
// ok is false when the server is not a replica or its replication is not
// running (the lag is then unknown).
func ReplicaLag(ctx context.Context, q *Conn) (lag time.Duration, ok bool, err error) {
	if err := q.connect(ctx); err != nil {
		return 0, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	c := q.c
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	res, err := c.Execute("SHOW SLAVE STATUS")
	if !stop() {
		q.c = nil
		return 0, false, fmt.Errorf("SHOW SLAVE STATUS: %w", context.Cause(ctx))
	}
	if err != nil {
		return 0, false, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
	}
	if res == nil || res.Resultset == nil || len(res.Values) == 0 {
		return 0, false, nil
	}
	for _, name := range []string{"Seconds_Behind_Master", "Seconds_Behind_Source"} {
		s, err := res.GetStringByName(0, name)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, nil // NULL: replication is not running
		}
		return time.Duration(n) * time.Second, true, nil
	}
	return 0, false, nil
}
