package mysql

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"

	"github.com/tidemark-cdc/tidemark/change"
)

// MariaGTID is one MariaDB GTID, domain-server-sequence. A MariaDB position
// holds one per replication domain: the last transaction applied in it.
type MariaGTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

func (g MariaGTID) String() string {
	var buf [64]byte
	return string(g.append(buf[:0]))
}

func (g MariaGTID) append(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(g.Domain), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(g.Server), 10)
	b = append(b, '-')
	return strconv.AppendUint(b, g.Seq, 10)
}

// ParseMariaGTIDs parses a MariaDB GTID position ("0-1-42,1-2-7", as
// @@gtid_binlog_pos prints it; spaces around elements are allowed). It
// rejects two GTIDs of one domain, which a position cannot hold, and returns
// the GTIDs sorted by domain.
func ParseMariaGTIDs(s string) ([]MariaGTID, error) {
	out, err := ParseMariaGTIDList(s)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(out); i++ {
		if out[i].Domain == out[i-1].Domain {
			return nil, fmt.Errorf("MariaDB GTID position %q has two GTIDs for domain %d", s, out[i].Domain)
		}
	}
	return out, nil
}

// ParseMariaGTIDList parses a list of MariaDB GTIDs that may hold several
// per domain (@@gtid_binlog_state: one per domain and server), sorted by
// domain.
func ParseMariaGTIDList(s string) ([]MariaGTID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []MariaGTID
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		d, rest, ok1 := strings.Cut(part, "-")
		sv, seq, ok2 := strings.Cut(rest, "-")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("MariaDB GTID %q is not domain-server-sequence", part)
		}
		domain, err1 := strconv.ParseUint(d, 10, 32)
		server, err2 := strconv.ParseUint(sv, 10, 32)
		n, err3 := strconv.ParseUint(seq, 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("MariaDB GTID %q: %w", part, err)
		}
		out = append(out, MariaGTID{uint32(domain), uint32(server), n})
	}
	slices.SortStableFunc(out, func(a, b MariaGTID) int { return int64cmp(int64(a.Domain), int64(b.Domain)) })
	return out, nil
}

func FormatMariaGTIDs(gs []MariaGTID) string {
	var buf [128]byte
	b := buf[:0]
	for i, g := range gs {
		if i > 0 {
			b = append(b, ',')
		}
		b = g.append(b)
	}
	return string(b)
}

func int64cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// GTIDState is the set of transactions the reader has completely read, in
// the server's own GTID format, plus where in the binlog the last one ended.
// It only changes at transaction boundaries.
type GTIDState struct {
	flavor change.Flavor
	maria  []MariaGTID           // MariaDB: sorted by domain
	mysql  *gomysql.MysqlGTIDSet // MySQL: executed set
	text   string                // canonical text of the set, cached per commit
	File   string                // binlog file where the last complete transaction ended (informational)
	Pos    uint64                // offset in File after it
	// ServerID is the server the position was read on, kept while the set
	// is empty (change.Position.ServerID).
	ServerID uint32
	// xa holds the XA transactions prepared with emitted rows and not yet
	// committed or rolled back (change.Position.XAPrepared).
	xa map[string]string
}

// NewGTIDState parses a stored position of the given flavour.
func NewGTIDState(flavor change.Flavor, p change.Position) (*GTIDState, error) {
	if p.Flavor != "" && p.Flavor != flavor {
		return nil, fmt.Errorf("stored position is a %s position but the shard is configured as %s", p.Flavor, flavor)
	}
	// An empty GTID set is a valid position: "before the first transaction"
	// (a server without any GTID yet); File then keeps the position non-zero.
	s := &GTIDState{flavor: flavor, File: p.File, Pos: p.Pos, ServerID: p.ServerID}
	for xid, gtid := range p.XAPrepared {
		s.AddXAPrepared(xid, gtid)
	}
	switch flavor {
	case change.FlavorMariaDB:
		gs, err := ParseMariaGTIDs(p.GTIDSet)
		if err != nil {
			return nil, err
		}
		s.maria = gs
		s.text = FormatMariaGTIDs(gs)
	default:
		set, err := gomysql.ParseMysqlGTIDSet(p.GTIDSet)
		if err != nil {
			return nil, fmt.Errorf("MySQL GTID set %q: %w", p.GTIDSet, err)
		}
		s.mysql = set.(*gomysql.MysqlGTIDSet)
		s.text = s.mysql.String()
	}
	return s, nil
}

// Position is the change.Position a later Run resumes from exactly.
func (s *GTIDState) Position() change.Position {
	p := change.Position{Flavor: s.flavor, GTIDSet: s.text, File: s.File, Pos: s.Pos}
	if s.text == "" {
		p.ServerID = s.ServerID // a file and offset: bound to its server
	}
	if len(s.xa) > 0 {
		p.XAPrepared = maps.Clone(s.xa)
	}
	return p
}

// AddXAPrepared records an XA transaction prepared with emitted rows.
func (s *GTIDState) AddXAPrepared(xid, gtid string) {
	if s.xa == nil {
		s.xa = map[string]string{}
	}
	s.xa[xid] = gtid
}

// ResolveXA forgets a prepared XA transaction at its XA COMMIT or XA
// ROLLBACK, and returns the GTID of its prepare if its rows were emitted.
func (s *GTIDState) ResolveXA(xid string) (prepareGTID string, emitted bool) {
	prepareGTID, emitted = s.xa[xid]
	delete(s.xa, xid)
	return prepareGTID, emitted
}

// AddMaria records a completed MariaDB transaction; text is g.String(),
// reused as the position's text when it is the only domain.
func (s *GTIDState) AddMaria(g MariaGTID, text string) {
	i, found := slices.BinarySearchFunc(s.maria, g.Domain, func(e MariaGTID, d uint32) int {
		return int64cmp(int64(e.Domain), int64(d))
	})
	if found {
		s.maria[i] = g
	} else {
		s.maria = slices.Insert(s.maria, i, g)
	}
	if len(s.maria) == 1 && text != "" {
		s.text = text
		return
	}
	s.text = FormatMariaGTIDs(s.maria)
}

// AddMySQL records a completed MySQL transaction.
func (s *GTIDState) AddMySQL(sid uuid.UUID, tag gomysql.Tag, gno int64) {
	s.mysql.AddGTIDWithTag(sid, tag, gno)
	s.text = s.mysql.String()
}

// SyncSet is the position as go-mysql's start argument.
func (s *GTIDState) SyncSet() (gomysql.GTIDSet, error) {
	if s.flavor == change.FlavorMariaDB {
		return gomysql.ParseMariadbGTIDSet(s.text)
	}
	return gomysql.ParseMysqlGTIDSet(s.text)
}

// MySQLGTIDText is the GTID of one MySQL transaction as Debezium's
// source.gtid shows it: "uuid:gno" or "uuid:tag:gno".
func MySQLGTIDText(sid uuid.UUID, tag gomysql.Tag, gno int64) string {
	b := make([]byte, 0, 36+1+20+len(tag.String())+1)
	b = append(b, sid.String()...)
	b = append(b, ':')
	if t := tag.String(); t != "" {
		b = append(b, t...)
		b = append(b, ':')
	}
	b = strconv.AppendInt(b, gno, 10)
	return string(b)
}

// Text is the canonical text of the set (what Position().GTIDSet holds).
func (s *GTIDState) Text() string { return s.text }
