package binlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
)

// Check verifies the server's prerequisites for streaming from the position
// from (skipped when from.IsZero()) and reports every failure at once in one
// *PrerequisiteError; each problem names the setting, its value and the fix.
// When one of the problems is a position the server can no longer serve, the
// error also matches ErrPositionLost. Failing to connect or to query returns
// that error instead (ErrAccessDenied for a rejected user).
//
// Checked: binary logging on, binlog_format=ROW, binlog_row_image=FULL,
// GTIDs (MySQL gtid_mode=ON; MariaDB always has them), no partial JSON
// updates (MySQL), the configured flavour matches the server, our server_id
// differs from the server's and from the replicas it shows, binlog retention
// of at least MinBinlogRetention, the user's privileges (REPLICATION SLAVE,
// REPLICATION CLIENT/BINLOG MONITOR, SELECT), and that from is still in the
// server's binlogs. binlog_row_metadata other than FULL is a failure unless
// Config.AllowMinimalRowMetadata accepts the information_schema fallback
// and its caveats (mysql/tablebuild.go); Check then logs a warning.
func (r *Reader) Check(ctx context.Context, from change.Position) error {
	q := mysql.NewConn(r.cfg.conn())
	defer q.Close()
	c := &checker{r: r, q: q}
	if err := c.run(ctx, from); err != nil {
		return fmt.Errorf("binlog: shard %s: check prerequisites: %w", r.cfg.Shard, err)
	}
	switch {
	case len(c.problems) > 0:
		if c.behind != "" {
			c.problems = append(c.problems, c.behind)
		}
		return &PrerequisiteError{Shard: r.cfg.Shard, Problems: c.problems, causes: c.causes}
	case c.behind != "":
		return mark(ErrHostBehind, fmt.Errorf("binlog: shard %s: %s", r.cfg.Shard, c.behind))
	}
	return nil
}

type checker struct {
	r        *Reader
	q        *mysql.Conn
	vars     map[string]string
	mariadb  bool
	problems []string
	causes   []error
	behind   string // the server is a replica behind the position (ErrHostBehind)
}

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) run(ctx context.Context, from change.Position) error {
	if err := c.readVariables(ctx); err != nil {
		return err
	}
	cfg := &c.r.cfg
	version := c.vars["version"]
	c.mariadb = strings.Contains(strings.ToLower(version), "mariadb")
	switch {
	case c.mariadb && cfg.Flavor != change.FlavorMariaDB:
		c.fail("the shard's flavor is %s but the server is MariaDB %s; set flavor: mariadb", cfg.Flavor, version)
	case !c.mariadb && cfg.Flavor != change.FlavorMySQL:
		c.fail("the shard's flavor is %s but the server is MySQL %s; set flavor: mysql", cfg.Flavor, version)
	}
	c.expect("log_bin", "ON", "start the server with --log-bin (binary logging is off)")
	c.expect("binlog_format", "ROW", "set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in the server configuration)")
	c.expect("binlog_row_image", "FULL", "set binlog_row_image=FULL (SET GLOBAL binlog_row_image='FULL' and in the server configuration)")
	if v, ok := c.vars["binlog_row_metadata"]; !ok || !strings.EqualFold(v, "FULL") {
		if !ok {
			v = "unsupported by this server (MySQL < 8.0.1, MariaDB < 10.5)"
		}
		if cfg.AllowMinimalRowMetadata {
			c.r.log.Warn("binlog_row_metadata is not FULL (allowed by allow_minimal_row_metadata): table schemas are read from information_schema, "+
				"so rows written before a column rename, an ENUM/SET reorder, a signedness or primary key change get the new shape",
				"shard", cfg.Shard, "binlog_row_metadata", v)
		} else {
			c.fail("binlog_row_metadata is %s: without FULL the binlog does not say which column is which, and information_schema shows tables as they are now, "+
				"so rows written before a column rename, an ENUM/SET member reorder, a changed signedness or primary key would be decoded with the new names, members or key; "+
				"set binlog_row_metadata=FULL (MariaDB 10.5+, MySQL 8.0.1+), or accept that risk with allow_minimal_row_metadata: true", v)
		}
	}
	if !c.mariadb {
		c.expect("gtid_mode", "ON", "set gtid_mode=ON (with enforce_gtid_consistency=ON)")
		if v := c.vars["binlog_row_value_options"]; strings.Contains(strings.ToUpper(v), "PARTIAL_JSON") {
			c.fail("binlog_row_value_options is %s: JSON updates are logged as diffs without the full value; set binlog_row_value_options=''", v)
		}
	}
	c.checkServerID(ctx)
	c.checkRetention()
	if err := c.checkGrants(ctx); err != nil {
		return err
	}
	if !from.IsZero() {
		if err := c.checkPosition(ctx, from); err != nil {
			return err
		}
	}
	return nil
}

var checkedVariables = []string{
	"version", "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "gtid_mode",
	"server_id", "gtid_binlog_state", "gtid_slave_pos", "gtid_executed", "gtid_purged", "binlog_row_value_options",
	"binlog_expire_logs_seconds", "expire_logs_days",
}

func (c *checker) readVariables(ctx context.Context) error {
	rows, err := c.q.Query(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('"+strings.Join(checkedVariables, "','")+"')")
	if err != nil {
		return err
	}
	c.vars = map[string]string{}
	for _, r := range rows {
		if len(r) >= 2 {
			c.vars[strings.ToLower(r[0].S)] = r[1].S
		}
	}
	return nil
}

func (c *checker) expect(name, want, fix string) {
	v, ok := c.vars[name]
	if !ok {
		v = "not set"
	}
	if !strings.EqualFold(v, want) {
		c.fail("%s is %s; %s", name, v, fix)
	}
}

// checkServerID: the server disconnects a replica when another registers
// with the same server_id, so two readers (or a reader and a real replica)
// sharing one would take turns silently.
func (c *checker) checkServerID(ctx context.Context) {
	cfg := &c.r.cfg
	own := strconv.FormatUint(uint64(cfg.ServerID), 10)
	if c.vars["server_id"] == own {
		c.fail("server_id %s is the server's own @@server_id; give the shard another server_id", own)
	}
	// Visible only with REPLICATION MASTER ADMIN (MariaDB 10.5+) or
	// REPLICATION SLAVE (MySQL); without it there is nothing to compare.
	for _, stmt := range []string{"SHOW REPLICAS", "SHOW SLAVE HOSTS"} {
		rows, err := c.q.Query(ctx, stmt)
		if err != nil {
			continue
		}
		for _, r := range rows {
			if len(r) < 2 || r[0].S != own || r[1].S == "tidemark:"+cfg.Shard {
				continue // not a clash, or this shard's own earlier connection
			}
			c.fail("server_id %s is already used by replica %s connected to the server; give the shard a server_id no replica uses", own, r[1].S)
		}
		return
	}
}

func (c *checker) checkRetention() {
	min := c.r.cfg.MinBinlogRetention
	if min <= 0 {
		return
	}
	var retention time.Duration
	name, value := "binlog_expire_logs_seconds", c.vars["binlog_expire_logs_seconds"]
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil && secs > 0 {
		retention = time.Duration(secs) * time.Second
	} else if days, err := strconv.ParseFloat(c.vars["expire_logs_days"], 64); err == nil && days > 0 {
		name, value = "expire_logs_days", c.vars["expire_logs_days"]
		retention = time.Duration(days * float64(24*time.Hour))
	}
	if retention > 0 && retention < min {
		c.fail("binlog retention is %s (%s=%s); keep binlogs at least %s (binlog_expire_logs_seconds=%d) so that a stopped connector can resume",
			retention, name, value, min, int64(min/time.Second))
	}
}

// checkGrants checks the global privileges the reader needs.
func (c *checker) checkGrants(ctx context.Context) error {
	rows, err := c.q.Query(ctx, "SHOW GRANTS")
	if err != nil {
		return err
	}
	var lines []string
	for _, r := range rows {
		if len(r) > 0 {
			lines = append(lines, r[0].S)
		}
	}
	c.problems = append(c.problems, grantProblems(lines, c.r.cfg.User)...)
	return nil
}

// grantProblems parses SHOW GRANTS output. Privileges granted through roles
// are not resolved: with a role granted, missing privileges are not
// reported (the server will say so at run time).
func grantProblems(lines []string, user string) []string {
	global := map[string]bool{}
	someSelect, roles := false, false
	for _, line := range lines {
		line = strings.ToUpper(line)
		if !strings.HasPrefix(line, "GRANT ") {
			continue
		}
		on := strings.Index(line, " ON ")
		if on < 0 {
			roles = true // GRANT role TO user
			continue
		}
		privs, obj := line[len("GRANT "):on], strings.TrimSpace(line[on+4:])
		isGlobal := strings.HasPrefix(obj, "*.*")
		for _, p := range strings.Split(privs, ",") {
			p = strings.TrimSpace(p)
			if isGlobal {
				global[p] = true
			}
			if p == "SELECT" || p == "ALL PRIVILEGES" || p == "ALL" {
				someSelect = true
			}
		}
	}
	if roles || global["ALL PRIVILEGES"] || global["ALL"] {
		return nil
	}
	var problems []string
	if !global["REPLICATION SLAVE"] {
		problems = append(problems, fmt.Sprintf("user %s lacks the REPLICATION SLAVE privilege; GRANT REPLICATION SLAVE ON *.* TO %s", user, user))
	}
	if !global["REPLICATION CLIENT"] && !global["BINLOG MONITOR"] && !global["SUPER"] {
		problems = append(problems, fmt.Sprintf("user %s lacks the REPLICATION CLIENT privilege (BINLOG MONITOR on MariaDB 10.5+); GRANT REPLICATION CLIENT ON *.* TO %s", user, user))
	}
	if !someSelect {
		problems = append(problems, fmt.Sprintf("user %s lacks the SELECT privilege (information_schema and snapshots need it); GRANT SELECT ON *.* TO %s, or on the captured databases", user, user))
	}
	return problems
}

func (c *checker) lost(format string, args ...any) {
	c.fail(format, args...)
	c.causes = append(c.causes, mysql.ErrPositionLost)
}

// checkPosition verifies the server still has every transaction after from
// in its binlogs, and that from is not ahead of them.
func (c *checker) checkPosition(ctx context.Context, from change.Position) error {
	if from.Flavor != "" && from.Flavor != c.r.cfg.Flavor {
		c.fail("the stored position is a %s position but the shard's flavor is %s", from.Flavor, c.r.cfg.Flavor)
		return nil
	}
	if p := portabilityProblem(from, c.vars["server_id"], c.r.cfg.Addr); p != "" {
		c.fail("%s", p)
		c.causes = append(c.causes, ErrPositionNotPortable)
		return nil
	}
	if c.r.cfg.Flavor == change.FlavorMySQL {
		c.checkMySQLPosition(from)
		return nil
	}
	stored, err := mysql.ParseMariaGTIDs(from.GTIDSet)
	if err != nil {
		c.fail("the stored position %q is not a MariaDB GTID position: %v", from.GTIDSet, err)
		return nil
	}
	state, _ := mysql.ParseMariaGTIDList(c.vars["gtid_binlog_state"])
	slavePos, _ := mysql.ParseMariaGTIDList(c.vars["gtid_slave_pos"])
	behind := mariaBehind(stored, state, slavePos)
	if len(behind) > 0 {
		c.behind = behindMessage(c.r.cfg.Addr, from.GTIDSet, behind, c.vars["gtid_binlog_state"], c.vars["gtid_slave_pos"])
	}
	var oldest string
	var start []mysql.MariaGTID
	rows, err := c.q.Query(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return err
	}
	if len(rows) > 0 && len(rows[0]) > 0 {
		oldest = rows[0][0].S
		// The position before the oldest binlog's first transaction.
		rows, err = c.q.Query(ctx, "SELECT BINLOG_GTID_POS(?, 4)", oldest)
		if err != nil {
			return err
		}
		if len(rows) == 1 && len(rows[0]) == 1 {
			if start, err = mysql.ParseMariaGTIDList(rows[0][0].S); err != nil {
				return fmt.Errorf("parse BINLOG_GTID_POS(%q, 4) = %q: %w", oldest, rows[0][0].S, err)
			}
		}
	}
	for _, p := range mariaPositionProblems(from.GTIDSet, stored, state, c.vars["gtid_binlog_state"], oldest, start, behind) {
		c.lost("%s", p)
	}
	return nil
}

// portabilityProblem: a position without GTIDs is its server's binlog file
// and offset (change.Position.ServerID); on a server with another
// server_id it means nothing, and resuming there would skip or repeat.
// Positions from before ServerID was recorded (0) cannot be told apart.
func portabilityProblem(from change.Position, serverID, addr string) string {
	if from.GTIDSet != "" || from.File == "" || from.ServerID == 0 || serverID == "" ||
		serverID == strconv.FormatUint(uint64(from.ServerID), 10) {
		return ""
	}
	return fmt.Sprintf("the stored position %s:%d has no GTIDs (its server had logged no transaction): it is a binlog file and offset of the server with server_id %d, "+
		"but %s is server_id %s, where that file and offset mean nothing; point the shard at the server with server_id %d until it has logged a transaction (the position then has a GTID, valid on its replicas), "+
		"or, if that server is gone, delete the shard's stored position and re-snapshot it",
		from.File, from.Pos, from.ServerID, addr, serverID, from.ServerID)
}

// mariaBehind returns the GTIDs of a stored MariaDB position that the
// server has not logged yet (a sequence number beyond the last one of its
// domain in gtid_binlog_state) in a domain it replicates (gtid_slave_pos
// has it): the server is a replica that has not caught up with the
// position. Nil when the server has every stored transaction, or is no
// replica of that domain (then it is another server's history:
// mariaPositionProblems).
func mariaBehind(stored, state, slavePos []mysql.MariaGTID) []mysql.MariaGTID {
	last := map[uint32]uint64{}
	for _, g := range state {
		last[g.Domain] = max(last[g.Domain], g.Seq)
	}
	replicated := map[uint32]bool{}
	for _, g := range slavePos {
		replicated[g.Domain] = true
	}
	var out []mysql.MariaGTID
	for _, g := range stored {
		if l, ok := last[g.Domain]; (!ok || g.Seq > l) && replicated[g.Domain] {
			out = append(out, g)
		}
	}
	return out
}

func behindMessage(addr, fromText string, behind []mysql.MariaGTID, stateText, slavePosText string) string {
	return fmt.Sprintf("the server at %s has not yet logged %s, which the position %s includes (its gtid_binlog_state is %q, gtid_slave_pos %q): "+
		"a replica behind the position; waiting until it has caught up (nothing is skipped; if it stays behind, check its replication: SHOW SLAVE STATUS)",
		addr, mysql.FormatMariaGTIDs(behind), fromText, stateText, slavePosText)
}

// mariaPositionProblems compares a stored MariaDB position with the server:
// a stored sequence number beyond the last one the server logged in its
// domain (gtid_binlog_state) is another server's history, unless the
// server is a replica behind it (behind, from mariaBehind: a wait, not a
// problem); a domain whose oldest binlog starts after the stored sequence
// number (or that the stored position lacks) lost transactions to purging.
func mariaPositionProblems(fromText string, stored, state []mysql.MariaGTID, stateText, oldest string, start, behind []mysql.MariaGTID) []string {
	var problems []string
	last := map[uint32]uint64{}
	for _, g := range state {
		last[g.Domain] = max(last[g.Domain], g.Seq)
	}
	waiting := map[uint32]bool{}
	for _, g := range behind {
		waiting[g.Domain] = true
	}
	have := map[uint32]uint64{}
	for _, g := range stored {
		have[g.Domain] = g.Seq
		if l, ok := last[g.Domain]; ok && g.Seq > l && !waiting[g.Domain] {
			problems = append(problems, fmt.Sprintf("the stored position %s is ahead of the server's binlogs (gtid_binlog_state %s): this is not the server the position was taken from, or its history diverged; point the shard at the right server or re-snapshot it",
				g, stateText))
		}
	}
	for _, g := range start {
		seq, ok := have[g.Domain]
		if ok && seq >= g.Seq {
			continue
		}
		storedText := "no GTID"
		if ok {
			storedText = "sequence " + strconv.FormatUint(seq, 10)
		}
		problems = append(problems, fmt.Sprintf("the stored position %s has %s in domain %d but the oldest binlog %s starts after %s: the transactions in between were purged; re-snapshot the shard (and keep binlogs longer)",
			fromText, storedText, g.Domain, oldest, g))
	}
	return problems
}

func (c *checker) checkMySQLPosition(from change.Position) {
	stored, err := gomysql.ParseMysqlGTIDSet(from.GTIDSet)
	if err != nil {
		c.fail("the stored position %q is not a MySQL GTID set: %v", from.GTIDSet, err)
		return
	}
	purged, err1 := gomysql.ParseMysqlGTIDSet(c.vars["gtid_purged"])
	executed, err2 := gomysql.ParseMysqlGTIDSet(c.vars["gtid_executed"])
	if err1 == nil && !stored.Contain(purged) {
		c.lost("the server purged transactions the stored position %s does not include (gtid_purged %s): re-snapshot the shard (and keep binlogs longer)",
			from.GTIDSet, c.vars["gtid_purged"])
	}
	if err2 == nil && !executed.Contain(stored) {
		c.lost("the stored position %s is not contained in the server's gtid_executed %s: this is not the server the position was taken from, or its history diverged",
			from.GTIDSet, c.vars["gtid_executed"])
	}
}
