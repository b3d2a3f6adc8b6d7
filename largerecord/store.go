package largerecord

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MaxObjectBytes bounds what Get reads: the largest value the claim-check
// accepts (1 GiB, MariaDB's max_allowed_packet ceiling) sealed, plus zstd's
// worst-case growth. A pointer forged to name a huge object (any file of
// the directory store's root, any object of the bucket) is refused before
// it is read, not allocated.
const MaxObjectBytes = 1<<30 + 1<<20

// Store is a blob store for claim-checked values. Implementations are safe
// for concurrent use.
type Store interface {
	// Put writes an object. It is idempotent: if name exists with the same
	// bytes it returns nil (a retried or replayed write never makes a
	// second object) and refreshes the object's Written time, so that GC
	// treats it as the new write it stands for; with different bytes, an
	// error wrapping ErrConflict.
	Put(ctx context.Context, name string, data []byte) error
	// Get reads an object; a missing one is an error wrapping ErrNotFound
	// that names it, one over MaxObjectBytes an error wrapping ErrTooLarge.
	Get(ctx context.Context, name string) ([]byte, error)
	// Delete removes the object as List described it: if it was written
	// (or refreshed by an idempotent Put) since, it is kept and the error
	// wraps ErrChanged. A missing object is not an error.
	Delete(ctx context.Context, o ObjectInfo) error
	// List calls fn for every object whose name starts with prefix,
	// streaming (memory does not grow with the count); GCS lists in
	// lexicographic order, a directory per directory.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// URI is the object's address as pointers carry it: gs://bucket/name or
	// file:///dir/name (the store's prefix or directory, then the name).
	URI(name string) string
	Close() error
}

// ObjectInfo describes a listed object.
type ObjectInfo struct {
	Name    string // as given to Put (without the store's prefix)
	Size    int64
	Written time.Time // the last Put, first or idempotent

	// version identifies this state of the object for Delete (GCS: its
	// generation and metageneration).
	generation, metageneration int64
}

// Open opens the store a URI names: gs://bucket[/prefix] (Google Cloud
// Storage; Application Default Credentials, or STORAGE_EMULATOR_HOST for
// an emulator) or file:///absolute/dir (a local directory, for
// development). It does no I/O: a missing bucket or directory shows on the
// first call, as an error naming it.
func Open(ctx context.Context, uri string) (Store, error) {
	switch {
	case strings.HasPrefix(uri, "gs://"):
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(uri, "gs://"), "/")
		if bucket == "" {
			return nil, fmt.Errorf("%w %q: no bucket", ErrInvalidURI, uri)
		}
		prefix = strings.Trim(prefix, "/")
		if prefix != "" {
			if err := validName(prefix); err != nil {
				return nil, fmt.Errorf("%w %q: prefix: %v", ErrInvalidURI, uri, err)
			}
		}
		return openGCS(ctx, bucket, prefix)
	case strings.HasPrefix(uri, "file:///"):
		dir := "/" + strings.Trim(strings.TrimPrefix(uri, "file:///"), "/")
		return openDir(dir)
	}
	return nil, fmt.Errorf("%w %q: want gs://bucket[/prefix] or file:///absolute/dir", ErrInvalidURI, uri)
}
