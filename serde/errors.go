package serde

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinels callers branch on. Every error serde returns wraps at most one of
// them (or is a *RegistryError); what each means for a pipeline is the
// daemon's classifier's decision.
var (
	// ErrNotFramed: a key or value is not Confluent-framed Avro (shorter than
	// the 5-byte header, or a magic byte other than 0). Terminal: the record
	// was not written by a Confluent-compatible serializer. The concrete
	// error is a *FramingError.
	ErrNotFramed = errors.New("not a Confluent-framed Avro record")

	// ErrIncompatibleSchema: the registry refused a schema as incompatible
	// with the subject's earlier versions (HTTP 409). Terminal: the table's
	// new shape breaks the subject's compatibility rule, and a human has to
	// decide (relax the rule, or change the table or topic).
	ErrIncompatibleSchema = errors.New("schema incompatible with the subject's compatibility rule")

	// ErrInvalidSchema: the registry rejected a schema as invalid (HTTP 422).
	// Terminal: a bug in the schema mapping.
	ErrInvalidSchema = errors.New("schema rejected as invalid by the registry")

	// ErrSchemaNotFound: the registry has no schema with the id a record
	// names (HTTP 404). Terminal for that record.
	ErrSchemaNotFound = errors.New("schema id not found in the registry")

	// ErrMalformed: an Avro body does not match its writer schema (truncated,
	// trailing bytes, a union or enum index out of range, a length beyond the
	// data). Terminal. The decoder never panics on such input.
	ErrMalformed = errors.New("malformed Avro data")

	// ErrRecordTooLarge is a record above its topic's limit that the
	// claim-check cannot make fit: compressed it is still too big, and no
	// large-record store is configured.
	ErrRecordTooLarge = errors.New("record too large for its topic")

	// ErrHashMismatch is an offloaded value whose bytes do not hash to what
	// its pointer says (a replaced or corrupted object).
	ErrHashMismatch = errors.New("claim-checked value does not match its hash")

	// ErrBadValue: an event's row value does not fit its column (wrong Go
	// type, NULL in a NOT NULL column, a decimal that is not a number).
	// Terminal: a bug in the reader that produced the event; dropping the
	// value would silently lose data. The concrete error is a *ValueError.
	ErrBadValue = errors.New("row value does not match its column")
)

// FramingError describes a key or value that is not Confluent-framed.
type FramingError struct {
	Len   int  // length of the data
	Magic byte // first byte (when Len > 0)
}

func (e *FramingError) Error() string {
	if e.Len < frameHeaderLen {
		return fmt.Sprintf("%v: %d bytes, need at least %d", ErrNotFramed, e.Len, frameHeaderLen)
	}
	return fmt.Sprintf("%v: magic byte 0x%02x, want 0x00", ErrNotFramed, e.Magic)
}

func (e *FramingError) Unwrap() error { return ErrNotFramed }

// RegistryError is a non-2xx answer of the Schema Registry.
type RegistryError struct {
	Op         string // "register subject X" or "get schema id N"
	StatusCode int    // HTTP status
	ErrorCode  int    // Confluent error_code from the body (e.g. 40403, 409, 42201), 0 if absent
	Message    string // message from the body, or the HTTP status text
}

func (e *RegistryError) Error() string {
	return fmt.Sprintf("schema registry: %s: HTTP %d (error_code %d): %s", e.Op, e.StatusCode, e.ErrorCode, e.Message)
}

// Unwrap maps the HTTP status to the sentinel it means, so callers use
// errors.Is(err, ErrIncompatibleSchema) without looking at codes.
func (e *RegistryError) Unwrap() error {
	switch e.StatusCode {
	case 409:
		return ErrIncompatibleSchema
	case 422:
		return ErrInvalidSchema
	case 404:
		if e.ErrorCode == 40403 || e.ErrorCode == 0 {
			return ErrSchemaNotFound
		}
	}
	return nil
}

// IncompatibleSchemaError is a table's new schema refused by the registry
// under the subject's compatibility rule: what changed, why it was refused,
// and what the operator can do. It unwraps to the *RegistryError (and so to
// ErrIncompatibleSchema).
type IncompatibleSchemaError struct {
	Table   string // database.table of the shard's table
	Topic   string
	Subject string
	DDL     string // the DDL statement that gave the table its new shape; "" if unknown
	Reason  string // the registry's explanation
	Err     error
}

func (e *IncompatibleSchemaError) Error() string {
	ddl := "a schema change the reader did not see as DDL (the table's shape at start differs from the subject's latest version)"
	if e.DDL != "" {
		ddl = "DDL " + strconv.Quote(e.DDL)
	}
	return fmt.Sprintf("table %s: the registry refused its new schema for subject %s as incompatible with the subject's compatibility rule, after %s: %s. "+
		"Nothing after the change was written. To go on: make the change compatible (give the new column a DEFAULT or make it nullable, "+
		"or undo the type change) and restart; or relax the rule for this subject (PUT <registry>/config/%s {\"compatibility\":\"NONE\"}) "+
		"and restart, accepting that consumers may not read old and new records with one schema; or route the table to a new topic",
		e.Table, e.Subject, ddl, e.Reason, e.Subject)
}

func (e *IncompatibleSchemaError) Unwrap() error { return e.Err }

// registryReason is the registry's message without a Java exception's
// class name in front (Apicurio: "io.apicurio...RuleViolationException: ").
func registryReason(err error) string {
	var re *RegistryError
	if !errors.As(err, &re) {
		return err.Error()
	}
	msg := re.Message
	if i := strings.Index(msg, "Exception: "); i >= 0 && !strings.Contains(msg[:i], " ") {
		msg = msg[i+len("Exception: "):]
	}
	return msg
}

// ValueError is a row value that does not fit its column.
type ValueError struct {
	Topic, Shard, Table string
	Column              string // "" when the row as a whole is wrong
	Value               any    // the offending value (its type is what matters)
	Reason              string
}

func (e *ValueError) Error() string {
	where := "topic " + e.Topic
	if e.Shard != "" {
		where += " shard " + e.Shard
	}
	where += " table " + e.Table
	if e.Column == "" {
		return fmt.Sprintf("%s: %v: %s", where, ErrBadValue, e.Reason)
	}
	return fmt.Sprintf("%s column %s: %v: %s (value of type %T)", where, e.Column, ErrBadValue, e.Reason, e.Value)
}

func (e *ValueError) Unwrap() error { return ErrBadValue }

// ErrRegistryUnavailable: the registry could not be asked or did not answer
// readably (connection refused or reset, DNS, a timeout, a truncated body).
// The registry may come back.
var ErrRegistryUnavailable = errors.New("schema registry unavailable")
