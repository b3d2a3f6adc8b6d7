// Package snapshot backfills tables with the DBLog watermark algorithm: it
// reads a table in primary-key chunks while the binlog keeps streaming, and
// merges each chunk into the stream between a low and a high watermark so that
// binlog events for keys of the chunk win over the chunk's rows. It owns the
// chunk queries; it does not import binlog or router (they meet in daemon).
//
// Not built yet: incremental snapshots are a later issue.
package snapshot
