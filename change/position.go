package change

import (
	"encoding/json"
	"fmt"
)

// Flavor is the server family, which decides the GTID format.
type Flavor string

const (
	FlavorMySQL   Flavor = "mysql"
	FlavorMariaDB Flavor = "mariadb"
)

// Position is a connector's resume point on its shard. GTIDSet is the
// authoritative part (MySQL "uuid:1-5,..." or MariaDB "0-1-42,1-2-7"); File
// and Pos are informational (and the fallback for servers without GTIDs).
// Snapshot carries incremental-snapshot progress as an opaque document owned
// by the snapshot package.
type Position struct {
	Flavor   Flavor          `json:"flavor"`
	GTIDSet  string          `json:"gtid_set"`
	File     string          `json:"file,omitempty"`
	Pos      uint64          `json:"pos,omitempty"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	// XAPrepared holds the XA transactions whose rows were emitted at XA
	// PREPARE and whose XA COMMIT or XA ROLLBACK is still to come (XID as
	// the binlog prints it → GTID of the prepare), so that a rollback is
	// recognised after a restart too. Usually empty.
	XAPrepared map[string]string `json:"xa_prepared,omitempty"`
	// ServerID is the @@server_id of the server a position without GTIDs
	// was read on (a server that never logged a transaction): such a
	// position is that server's binlog file and offset, meaningless on
	// another server, so the reader refuses to resume it anywhere else. A
	// position with GTIDs holds no server: it is valid on every server
	// that has its transactions (a replica, a promoted replica).
	ServerID uint32 `json:"server_id,omitempty"`
}

// IsZero reports whether the position is unset (start from the server's
// current position).
func (p Position) IsZero() bool { return p.GTIDSet == "" && p.File == "" }

func (p Position) String() string {
	if p.GTIDSet != "" {
		return fmt.Sprintf("%s gtid %s", p.Flavor, p.GTIDSet)
	}
	if p.File != "" {
		return fmt.Sprintf("%s %s:%d", p.Flavor, p.File, p.Pos)
	}
	return "(none)"
}

// Marshal encodes the position for storage.
func (p Position) Marshal() ([]byte, error) { return json.Marshal(p) }

// UnmarshalPosition decodes a stored position.
func UnmarshalPosition(b []byte) (Position, error) {
	var p Position
	if err := json.Unmarshal(b, &p); err != nil {
		return Position{}, fmt.Errorf("decode stored position: %w", err)
	}
	switch p.Flavor {
	case FlavorMySQL, FlavorMariaDB:
	default:
		return Position{}, fmt.Errorf("decode stored position: unknown flavor %q", p.Flavor)
	}
	return p, nil
}
