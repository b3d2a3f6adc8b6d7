package largerecord

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxNameLen is GCS's limit on object names, in bytes; the directory store
// keeps it too so a name valid for one store is valid for the other.
const maxNameLen = 1024

// nameHashContext separates the name's keyed hash from the encryption key
// derived from the same secret (seal.go).
const nameHashContext = "tidemark claim-check name v1"

// Ref is what a claim-checked value belongs to. Its name is a function of
// these fields only, so writing the same row of the same event again (a
// retry, a replay after a restart) names the same object.
type Ref struct {
	Topic string // Kafka topic of the record
	Shard string // source shard id
	Event string // GTID of the transaction (0-1-123, 3E11FA47-...:23) or the snapshot id
	Row   int    // index of the value within the event
	// Plaintext is the value that is stored: the bytes Seal encrypts.
	Plaintext []byte
	// Secret is the daemon-wide claim-check secret, the one given to Seal.
	// It keys the content hash in the name: an unkeyed SHA-256 there would
	// let anyone who can list the bucket confirm a guessed value, the very
	// attack the keyed encryption prevents. Empty: the hash is the plain
	// SHA-256 of Plaintext (plain convergent, like Seal without a secret).
	Secret []byte
}

// ObjectName is the object's name for ref:
//
//	<topic>/<shard>/<event>/<row>-<hash>
//
// Topic, shard and event are escaped (url.PathEscape, and a leading '.' as
// %2E) so any string is one safe segment: no '/', no "." or "..", no hidden
// file. hash is the first 32 hex digits (128 bits) of the content hash (see
// Ref.Secret): a different value for the same row gets a new name rather
// than a conflict. An empty topic, shard or event gives a name the stores
// refuse (ErrInvalidName).
func ObjectName(ref Ref) string {
	return escapeSegment(ref.Topic) + "/" + escapeSegment(ref.Shard) + "/" +
		escapeSegment(ref.Event) + "/" + strconv.Itoa(ref.Row) + "-" + contentHash(ref)
}

// contentHash is 32 hex digits. With a secret it also covers the name's
// other fields, so two rows with equal values get unrelated names: equality
// is visible only within one name.
func contentHash(ref Ref) string {
	sum := sha256.Sum256(ref.Plaintext)
	if len(ref.Secret) == 0 {
		return hex.EncodeToString(sum[:16])
	}
	m := hmac.New(sha256.New, ref.Secret)
	var b []byte
	b = append(b, nameHashContext...)
	b = append(b, 0)
	for _, f := range []string{ref.Topic, ref.Shard, ref.Event} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendVarint(b, int64(ref.Row))
	b = append(b, sum[:]...)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func escapeSegment(s string) string {
	e := url.PathEscape(s)
	if strings.HasPrefix(e, ".") {
		e = "%2E" + e[1:]
	}
	return e
}

// unescapeSegment accepts only what escapeSegment produces, so every name
// has one spelling.
func unescapeSegment(seg string) (string, bool) {
	s, err := url.PathUnescape(seg)
	if err != nil || escapeSegment(s) != seg {
		return "", false
	}
	return s, true
}

// ParseObjectName returns the topic and shard of a name ObjectName made, so
// GC knows which topic must reference it. Anything else (another layout, a
// non-canonical escape, a malformed <row>-<hash>) is an error wrapping
// ErrInvalidName.
func ParseObjectName(name string) (topic, shard string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("%w %q: %s (want <topic>/<shard>/<event>/<row>-<32 hex>)", ErrInvalidName, name, why)
	}
	if err := validName(name); err != nil {
		return "", "", err
	}
	segs := strings.Split(name, "/")
	if len(segs) != 4 {
		return bad(fmt.Sprintf("%d segments", len(segs)))
	}
	var fields [3]string
	for i := range fields {
		s, ok := unescapeSegment(segs[i])
		if !ok {
			return bad(fmt.Sprintf("segment %q is not escaped canonically", segs[i]))
		}
		fields[i] = s
	}
	last := segs[3]
	dash := strings.LastIndexByte(last, '-')
	if dash < 0 {
		return bad("last segment has no '-'")
	}
	row, hash := last[:dash], last[dash+1:]
	if n, err := strconv.Atoi(row); err != nil || strconv.Itoa(n) != row {
		return bad(fmt.Sprintf("row %q is not a decimal integer", row))
	}
	if len(hash) != 32 || strings.Trim(hash, "0123456789abcdef") != "" {
		return bad(fmt.Sprintf("hash %q is not 32 lowercase hex digits", hash))
	}
	return fields[0], fields[1], nil
}

// validName is the rule both stores apply to names (and the GCS store to
// its prefix): it keeps a name inside the directory store's root, off its
// temporary files (which start with '.'), and within GCS's rules.
func validName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidName, name, why) }
	switch {
	case name == "":
		return bad("empty")
	case len(name) > maxNameLen:
		return bad(fmt.Sprintf("%d bytes, more than %d", len(name), maxNameLen))
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case name[0] == '/':
		return bad("leading '/'")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" {
			return bad("empty segment")
		}
		if seg[0] == '.' {
			return bad(fmt.Sprintf("segment %q starts with '.'", seg))
		}
	}
	return nil
}

// TopicPrefix is the name prefix of every object of a topic: what GC
// sweeps after reading that topic.
func TopicPrefix(topic string) string { return escapeSegment(topic) + "/" }
