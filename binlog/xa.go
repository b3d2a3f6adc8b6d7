package binlog

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// XA transactions.
//
// The rows of an XA transaction are in its prepare group (GTID, rows,
// XA END, an XA_PREPARE event), which the reader emits as it reads it:
// the binlog holds nothing more of the transaction, and buffering it until
// its outcome (minutes or hours later, possibly after a restart) could not
// be bounded in memory. The outcome comes later as a group of its own,
// "XA COMMIT <xid>" or "XA ROLLBACK <xid>". A rollback of a transaction
// whose rows were emitted means Kafka holds row changes that never
// committed: the reader stops with ErrXARollback naming the XID and the
// prepare's GTID, unless Config.ContinueAfterXARollback accepts it (a WARN
// and a warning of kind "xa_rollback" then say so).
//
// Prepared XIDs whose rows were emitted travel in every position
// (change.Position.XAPrepared), so a rollback is recognised after a restart
// too. XA COMMIT ... ONE PHASE is logged as an ordinary transaction.

// xaPrepare ends the prepare group of an XA transaction: when it emitted
// rows, its XID is remembered in the position until its outcome.
func (s *session) xaPrepare(data []byte) {
	if s.tx.seq == 0 {
		return // no captured row: whatever its outcome, Kafka holds nothing of it
	}
	xid, ok := parseXAPrepare(data)
	if !ok {
		// Without the XID a rollback cannot be matched: say so now rather
		// than miss it later.
		s.warn("xa_unparsed", fmt.Sprintf("XA PREPARE of transaction %s: cannot read its XID from the event (%d bytes); a later XA ROLLBACK of it would go unnoticed", s.tx.gtid, len(data)))
		return
	}
	s.pos.AddXAPrepared(xid, s.tx.gtid)
}

// xaOutcome handles "XA COMMIT <xid>" and "XA ROLLBACK <xid>" (rest is the
// text after the verb).
func (s *session) xaOutcome(rollback bool, rest []byte) error {
	xid := normalizeXID(string(rest))
	prepareGTID, emitted := s.pos.ResolveXA(xid)
	if !rollback || !emitted {
		return nil
	}
	msg := fmt.Sprintf("XA ROLLBACK %s (transaction %s): its rows were emitted at XA PREPARE (transaction %s), so Kafka holds row changes that never committed",
		xid, s.tx.gtid, prepareGTID)
	if !s.cfg.ContinueAfterXARollback {
		s.pos.AddXAPrepared(xid, prepareGTID) // still pending: a restart fails here again
		return mark(ErrXARollback, fmt.Errorf("binlog: shard %s: %s; re-snapshot the tables it changed, then set on_xa_rollback: continue to go on past it", s.cfg.Shard, msg))
	}
	s.warn("xa_rollback", msg+"; continuing (on_xa_rollback: continue): re-snapshot the tables it changed")
	return nil
}

// parseXAPrepare reads the XID of an XA_PREPARE_LOG_EVENT's body (MySQL and
// MariaDB share the layout: one_phase u8, formatID u32, gtrid_length u32,
// bqual_length u32, gtrid and bqual bytes) as the binlog prints it.
func parseXAPrepare(data []byte) (string, bool) {
	const head = 1 + 4 + 4 + 4
	if len(data) < head {
		return "", false
	}
	formatID := binary.LittleEndian.Uint32(data[1:])
	gl, bl := binary.LittleEndian.Uint32(data[5:]), binary.LittleEndian.Uint32(data[9:])
	if gl > 64 || bl > 64 || len(data) < head+int(gl+bl) {
		return "", false
	}
	body := data[head:]
	return formatXID(formatID, body[:gl], body[gl:gl+bl]), true
}

// formatXID renders an XID the way the server writes it in XA COMMIT and
// XA ROLLBACK queries, normalised: X'<gtrid hex>',X'<bqual hex>',<formatID>
// in lower case.
func formatXID(formatID uint32, gtrid, bqual []byte) string {
	return "x'" + hex.EncodeToString(gtrid) + "',x'" + hex.EncodeToString(bqual) + "'," + strconv.FormatUint(uint64(formatID), 10)
}

// normalizeXID brings an XID as a query prints it to formatXID's form.
func normalizeXID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, ";")
	return strings.Join(strings.Fields(s), "")
}

// xaVerb reports whether q is "XA COMMIT ..." or "XA ROLLBACK ..." and
// returns what follows the verb.
func xaVerb(q []byte) (rollback bool, rest []byte, ok bool) {
	for _, v := range []struct {
		verb     string
		rollback bool
	}{{"XA COMMIT ", false}, {"XA ROLLBACK ", true}} {
		if len(q) > len(v.verb) && bytes.EqualFold(q[:len(v.verb)], []byte(v.verb)) {
			return v.rollback, q[len(v.verb):], true
		}
	}
	return false, nil, false
}
