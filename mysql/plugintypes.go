package mysql

import "strconv"

// Text forms of MariaDB's data-type plugins, which the binlog cannot tell
// from BINARY(n): UUID is BINARY(16), INET4 BINARY(4), INET6 BINARY(16).
// The reader learns the real type from information_schema.COLUMNS and turns
// the bytes into exactly the text SELECT prints.

const hexDigits = "0123456789abcdef"

// formatUUID renders 16 bytes as "6ccd780c-baba-1026-9564-5b8c656024db".
//
// MariaDB keeps time-based UUIDs in an index-friendly, segment-swapped order
// inside the storage engine, but the row image it writes to the binlog is the
// plain RFC 4122 byte order: verified against SELECT on MariaDB 10.11 for
// version 1, 4 and 7 UUIDs (integration test TestBinlogTypeMatrix). Older
// servers are not trusted: see UUIDVerified.
func formatUUID(b []byte) string {
	var out [36]byte
	j := 0
	for i, c := range b[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&15]
		j += 2
	}
	return string(out[:])
}

// UUIDVerified reports whether the binlog byte order of MariaDB's UUID type
// has been verified for this server version (10.11 and later). The UUID type
// appeared in 10.7, and 10.7–10.10 changed its storage order in minor
// releases (MDEV-29959); rather than risk a wrong value there, the reader
// rejects UUID columns on those versions with an UnsupportedTypeError.
func UUIDVerified(major, minor int) bool {
	return major > 10 || (major == 10 && minor >= 11)
}

// formatInet4 renders 4 bytes as a dotted quad.
func formatInet4(b []byte) string {
	out := make([]byte, 0, 15)
	for i, c := range b[:4] {
		if i > 0 {
			out = append(out, '.')
		}
		out = strconv.AppendUint(out, uint64(c), 10)
	}
	return string(out)
}

// formatInet6 renders 16 bytes the way MariaDB's INET6 type prints them
// (MySQL's INET6_NTOA rules, which differ from RFC 5952 and Go's netip):
// the longest run of zero groups, even a single one, becomes "::" (the first
// run on a tie); an address whose first 96 bits are zero and whose longest
// zero run is exactly the first six groups prints as "::a.b.c.d", and an
// IPv4-mapped one as "::ffff:a.b.c.d".
func formatInet6(b []byte) string {
	var w [8]int
	for i := range w {
		w[i] = int(b[2*i])<<8 | int(b[2*i+1])
	}
	gapPos, gapLen := -1, 0
	for i := 0; i < 8; {
		if w[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && w[j] == 0 {
			j++
		}
		if j-i > gapLen {
			gapPos, gapLen = i, j-i
		}
		i = j
	}
	out := make([]byte, 0, 39)
	if gapPos == 0 && (gapLen == 6 || (gapLen == 5 && w[5] == 0xffff)) {
		out = append(out, ':', ':')
		if gapLen == 5 {
			out = append(out, "ffff:"...)
		}
		for i, c := range b[12:16] {
			if i > 0 {
				out = append(out, '.')
			}
			out = strconv.AppendUint(out, uint64(c), 10)
		}
		return string(out)
	}
	for i := 0; i < 8; i++ {
		if i == gapPos {
			out = append(out, ':', ':')
			i += gapLen - 1
			continue
		}
		if len(out) > 0 && out[len(out)-1] != ':' {
			out = append(out, ':')
		}
		out = strconv.AppendUint(out, uint64(w[i]), 16)
	}
	return string(out)
}
