package largerecord

import "errors"

// Sentinel errors. Every error this package returns wraps at most one of
// them, together with the object (its URI or name) it is about; whether a
// pipeline retries or stops is the daemon's classifier's decision.
var (
	// ErrNotFound: the object does not exist. For a claim-check pointer this
	// means GC removed it (its record was compacted away, or the pointer is
	// older than the grace period and was never referenced) or it was
	// deleted by hand.
	ErrNotFound = errors.New("largerecord: object not found")

	// ErrConflict: Put found an object of that name with different bytes.
	// Names are derived from the content, so this is never a retry: either
	// the claim-check secret changed between the two writes, or a bug
	// derived the same name for two values. Terminal; nothing is
	// overwritten.
	ErrConflict = errors.New("largerecord: object exists with different content")

	// ErrChanged: Delete found the object written again since it was
	// listed (a replayed record's Put refreshed it): it is kept.
	ErrChanged = errors.New("largerecord: object written since it was listed")

	// ErrWrongKey: the object did not authenticate under the key and name
	// given. Either the key is not this object's (a pointer that names
	// another object, a truncated header), the object was copied from
	// another name, or its bytes were altered. Terminal.
	ErrWrongKey = errors.New("largerecord: object does not open with this key and name")

	// ErrCorrupt: bytes that are not what this package wrote: an object
	// without the magic or shorter than its tag, or data that is not valid
	// zstd. Terminal.
	ErrCorrupt = errors.New("largerecord: corrupt data")

	// ErrTooLarge: decompressed data would exceed the caller's limit (a
	// decompression bomb, or a limit below the record's size). Terminal
	// for that record.
	ErrTooLarge = errors.New("largerecord: data larger than the limit")

	// ErrInvalidName: an object name the stores refuse (empty, a leading
	// '/', an empty segment, a segment starting with '.', a control
	// character), or one that ObjectName did not make.
	ErrInvalidName = errors.New("largerecord: invalid object name")

	// ErrInvalidURI: Open's URI is neither gs://bucket[/prefix] nor
	// file:///absolute/dir. A configuration error.
	ErrInvalidURI = errors.New("largerecord: invalid store URI")

	// ErrNoBucket: the GCS bucket does not exist. Tidemark never creates
	// buckets (their location, retention and access policy are the
	// operator's decision): create it, or fix the URI.
	ErrNoBucket = errors.New("largerecord: bucket does not exist")
)
