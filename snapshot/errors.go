package snapshot

import "errors"

// Sentinels callers branch on (the daemon's classifier decides what each
// means for the shard).
var (
	// ErrCorruptProgress: the snapshot progress stored with the shard's
	// position cannot be read.
	ErrCorruptProgress = errors.New("snapshot progress is corrupt")

	// ErrNoKey: a table has neither a primary key nor a unique key of NOT
	// NULL columns to chunk by, and the request did not opt in to reading
	// it whole (allow_keyless).
	ErrNoKey = errors.New("table has no primary or unique NOT NULL key to chunk by")

	// ErrKeyType: a key column's type cannot be paginated exactly (ENUM and
	// SET order by index but compare as text; FLOAT and DOUBLE do not round
	// trip through text).
	ErrKeyType = errors.New("key column type cannot be paginated exactly")

	// ErrNotFound: no snapshot request with that id.
	ErrNotFound = errors.New("no such snapshot")

	// ErrState: the request is not in a state the operation applies to
	// (pausing a finished snapshot, say).
	ErrState = errors.New("snapshot is not in a state for this")

	// ErrBadRequest: a snapshot request the shard cannot run as given (no
	// table matches, a WHERE the server rejects, ...). *RequestError has
	// the details.
	ErrBadRequest = errors.New("bad snapshot request")
)
