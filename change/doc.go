// Package change is the vocabulary every pipeline stage speaks: a row change
// Event, where it came from (Source), and the Position a connector resumes
// from. binlog/ and snapshot/ produce Events, serde/ encodes them, router/
// delivers them and stores Positions. Siblings never import each other; they
// exchange these types.
//
// Row values are the canonical Go values of schema (see schema.Value docs):
// one element per table column, nil for SQL NULL.
package change
