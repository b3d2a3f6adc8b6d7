// Package integration holds Tidemark's end-to-end tests. They run against the
// real local stack (MariaDB shards, Kafka, Apicurio Registry, the GCS
// emulator) that `stack/stack up` starts; `eval "$(stack/stack env)"` exports
// its endpoints. Without those variables the tests skip, unless
// TIDEMARK_REQUIRE_STACK=1 (as `make test` and CI set it), where a missing part
// fails the run.
package integration
