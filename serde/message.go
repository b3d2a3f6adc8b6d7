package serde

// Message is one Kafka record an event becomes.
//
// Value nil is a tombstone (Kafka null value, no frame); Key nil is the null
// key of a table without primary key. Key, Value and header values of the
// messages of one Encoder.Messages call share one backing array: they are
// read-only, and cheap to keep until the producer has sent them.
type Message struct {
	Key, Value []byte
	Headers    []Header
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Headers Debezium puts on the two halves of a primary-key change
// (RelationalChangeRecordEmitter). Their values are the other key in Kafka
// Connect's string form of a Struct, {"id":5} (connectstring.go), as
// Debezium's default header converter writes them.
const (
	// HeaderNewKey is on the delete (and its tombstone) for the old key.
	HeaderNewKey = "__debezium.newkey"
	// HeaderOldKey is on the create for the new key.
	HeaderOldKey = "__debezium.oldkey"
)

// Debezium 3.x's context headers (DebeziumHeaderProducer), in its order;
// written with Options.ContextHeaders.
const (
	HeaderConnectorLogicalName = "__debezium.context.connectorLogicalName"
	HeaderTaskID               = "__debezium.context.taskId"
	HeaderConnectorName        = "__debezium.context.connectorName"
	HeaderRunID                = "__debezium.context.runId"
)
