package change

import "fmt"

// PanicError is a panic recovered at the boundary of a goroutine a stage
// started (or of a callback a library runs on its own goroutine). Every
// stage turns its panics into one, so the daemon stops only that shard and
// classifies it as an internal error wherever it happened.
type PanicError struct {
	Stage string // where it happened: "binlog", "encode", "kafka", "kafka ack", ...
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack (for the log, not for /status)
}

func (p *PanicError) Error() string {
	if p.Stage != "" {
		return fmt.Sprintf("internal error: the %s stage panicked: %v", p.Stage, p.Value)
	}
	return fmt.Sprintf("internal error: panic: %v", p.Value)
}
