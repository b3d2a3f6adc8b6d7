package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/snapshot"
)

// snapshotSession is what every snapshot connection sets first: values in
// the form the binlog reader sees them (mysql.ReadSession), and no way to
// write by mistake.
var snapshotSession = append(append([]string{}, mysql.ReadSession...), "SET SESSION TRANSACTION READ ONLY")

// snapshotSource is the shard's server as its snapshot runner reads it:
// the same account, address and TLS as the binlog reader, with snapshot
// sessions.
func (p *pipeline) snapshotSource(bcfg binlog.Config) snapshot.Source {
	cc := bcfg.ConnConfig()
	cc.Session = snapshotSession
	filter := bcfg.Include
	var envMu sync.Mutex
	var env *mysql.TableEnv // read once per lifetime, by the first table
	flavor := bcfg.Flavor
	return snapshot.Source{
		Flavor:   flavor,
		ServerID: 0,
		Connect:  func() snapshot.Conn { return mysql.NewConn(cc) },
		ConnectWritable: func() snapshot.Conn {
			w := bcfg.ConnConfig()
			w.Session = mysql.ReadSession // not read only: it writes the signal rows
			return mysql.NewConn(w)
		},
		Position: func(ctx context.Context, c snapshot.Conn) (change.Position, error) {
			return mysql.CurrentPosition(ctx, c.(*mysql.Conn), flavor)
		},
		Schema: func(ctx context.Context, c snapshot.Conn, db, table string) (*schema.Table, []mysql.Converter, error) {
			envMu.Lock()
			if env == nil {
				e := &mysql.TableEnv{Shard: p.shard, Flavor: flavor}
				if err := e.Load(ctx, c.(*mysql.Conn)); err != nil {
					envMu.Unlock()
					return nil, nil, err
				}
				env = e
			}
			e := env
			envMu.Unlock()
			t, convs, err := mysql.LoadTableSchema(ctx, c.(*mysql.Conn), e, db, table)
			if errors.Is(err, mysql.ErrNoSuchTable) {
				return nil, nil, nil
			}
			return t, convs, err
		},
		SelectList: mysql.SelectColumns,
		ReplicaLag: func(ctx context.Context, c snapshot.Conn) (time.Duration, bool, error) {
			return mysql.ReplicaLag(ctx, c.(*mysql.Conn))
		},
		Allowed: func(db, table string) bool {
			return (filter == nil || filter(db, table)) && !strings.EqualFold(db+"."+table, p.snapCfg.SignalTable)
		},
	}
}
