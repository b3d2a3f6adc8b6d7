// Package largerecord is the claim-check for records above Kafka's size limit:
// it compresses them (zstd) and, if still too big, stores them in a blob store
// (Google Cloud Storage, or a local directory for development) and describes
// the object with a small pointer that travels in the Kafka record instead.
//
// Not built yet: the claim-check is a later issue.
package largerecord
