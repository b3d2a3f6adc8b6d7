package serde

import "encoding/binary"

// Confluent wire framing: magic byte 0, the schema id as a 4-byte big-endian
// integer, then the Avro binary body. A tombstone is a nil value: no frame.

const (
	magicByte      = 0
	frameHeaderLen = 5
)

// AppendFrameHeader appends the 5-byte Confluent header for schema id.
func AppendFrameHeader(dst []byte, id int) []byte {
	return append(dst, magicByte, byte(uint32(id)>>24), byte(uint32(id)>>16), byte(uint32(id)>>8), byte(uint32(id)))
}

// ParseFrame splits a Confluent-framed record into its schema id and Avro
// body. It returns a *FramingError (errors.Is ErrNotFramed) for data shorter
// than the header or with an unknown magic byte.
func ParseFrame(b []byte) (id int, body []byte, err error) {
	if len(b) < frameHeaderLen {
		e := &FramingError{Len: len(b)}
		if len(b) > 0 {
			e.Magic = b[0]
		}
		return 0, nil, e
	}
	if b[0] != magicByte {
		return 0, nil, &FramingError{Len: len(b), Magic: b[0]}
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[frameHeaderLen:], nil
}
