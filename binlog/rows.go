package binlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// eventOverhead estimates the bytes an Event holds besides its row values:
// the struct, its Source strings and the two Row slice headers.
const eventOverhead = 320

// rows turns one rows event into change events, one per row (an update's
// before and after images make one event). Values are converted in place,
// in go-mysql's row slices, which become the events' Rows.
func (s *session) rows(ctx context.Context, ev *replication.BinlogEvent, e *replication.RowsEvent) error {
	if e.Rows == nil {
		return nil // a table outside the allow-list: not even decoded
	}
	if !s.tx.active {
		return mark(mysql.ErrUndecodable, fmt.Errorf("binlog: shard %s: rows event for %s.%s at %s:%d outside a transaction",
			s.cfg.Shard, e.Table.Schema, e.Table.Table, s.file, ev.Header.LogPos))
	}
	ent, err := s.tables.resolve(ctx, s.sql, e.Table)
	if err != nil {
		return s.rowsError(ev, e, err)
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return mark(ErrServerSetting, fmt.Errorf("binlog: shard %s: %s at %s:%d has a partial row image (columns %v missing): binlog_row_image must be FULL",
				s.cfg.Shard, ent.table.QualifiedName(), s.file, ev.Header.LogPos, skipped))
		}
	}
	var op change.Op
	step := 1
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = change.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op, step = change.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = change.OpDelete
	default:
		return nil
	}
	h := ev.Header
	var eventPos uint64
	if h.LogPos >= h.EventSize {
		eventPos = uint64(h.LogPos - h.EventSize)
	}
	for i, row := 0, 0; i+step <= len(e.Rows); i, row = i+step, row+1 {
		s.tx.seq++
		if s.tx.seq <= s.tx.skip {
			s.m.replaySkips.Inc()
			continue
		}
		out := change.Event{
			Op:    op,
			Table: ent.table,
			Source: change.Source{
				Shard: s.cfg.Shard, Connector: string(s.cfg.Flavor),
				Database: ent.table.Database, Table: ent.table.Name,
				ServerID: h.ServerID, GTID: s.tx.gtid, File: s.file, Pos: eventPos, Row: row,
				Thread: s.tx.thread, TsMs: s.tx.commitUS / 1000, TxSeq: s.tx.seq,
			},
			Position:         s.pos.Position(),
			CommitUnixMicros: s.tx.commitUS,
			Size:             eventOverhead,
		}
		switch op {
		case change.OpCreate:
			out.After = e.Rows[i]
		case change.OpUpdate:
			out.Before, out.After = e.Rows[i], e.Rows[i+1]
		case change.OpDelete:
			out.Before = e.Rows[i]
		}
		for _, r := range [2]change.Row{out.Before, out.After} {
			if r == nil {
				continue
			}
			n, err := convertRow(ent, r)
			if err != nil {
				return s.rowsError(ev, e, err)
			}
			out.Size += n
		}
		if err := s.emit(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

// convertRow converts a row image in place to canonical values and returns
// their estimated size.
func convertRow(ent *tableEntry, row change.Row) (int, error) {
	if len(row) != len(ent.conv) {
		return 0, mark(mysql.ErrUndecodable, fmt.Errorf("row has %d values for %d columns", len(row), len(ent.conv)))
	}
	size := 0
	for j, v := range row {
		if v == nil {
			size += mysql.SizeNull
			continue
		}
		c, n, err := ent.conv[j].Convert(v)
		if err != nil {
			return 0, err
		}
		row[j] = c
		size += n
	}
	return size, nil
}

// rowsError names shard, table, position and transaction in a decoding
// error, keeping its sentinels and filling UnsupportedTypeError's
// shard.
func (s *session) rowsError(ev *replication.BinlogEvent, e *replication.RowsEvent, err error) error {
	var ute *schema.UnsupportedTypeError
	if errors.As(err, &ute) {
		if ute.Shard == "" {
			c := *ute
			c.Shard = s.cfg.Shard
			return &c
		}
		return err
	}
	return fmt.Errorf("binlog: shard %s: decode rows of %s.%s at %s:%d (gtid %s): %w",
		s.cfg.Shard, e.Table.Schema, e.Table.Table, s.file, ev.Header.LogPos, s.tx.gtid, err)
}
