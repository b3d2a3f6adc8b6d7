package mysql

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// A TextDecoder turns a column's bytes in its MySQL character set into valid
// UTF-8. The binlog carries CHAR/VARCHAR/TEXT values (and ENUM/SET member
// names in the table map) in the column's character set; canonical strings
// are always UTF-8 (schema/value.go).
type TextDecoder struct {
	charset string
	kind    decoderKind
	table   *[256]rune        // single-byte charsets
	enc     encoding.Encoding // multi-byte charsets decoded with x/text
}

type decoderKind uint8

const (
	decUTF8 decoderKind = iota
	decSingleByte
	decUCS2    // big-endian UCS-2
	decUTF16   // big-endian UTF-16
	decUTF16LE // little-endian UTF-16
	decUTF32   // big-endian UTF-32
	decXText
)

// singleByteCharsets maps MySQL single-byte character sets to x/text code
// pages. latin1 is special-cased: MySQL's latin1 is Windows-1252 with the
// five bytes cp1252 leaves undefined mapped to the C1 controls U+0081 etc.,
// which is what CONVERT(... USING utf8mb4) returns for them.
var singleByteCharsets = map[string]*charmap.Charmap{
	"latin1": charmap.Windows1252, "latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9,
	"latin7": charmap.ISO8859_13, "greek": charmap.ISO8859_7, "hebrew": charmap.ISO8859_8,
	"cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251, "cp1256": charmap.Windows1256,
	"cp1257": charmap.Windows1257, "cp850": charmap.CodePage850, "cp852": charmap.CodePage852,
	"cp866": charmap.CodePage866, "koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U,
	"macroman": charmap.Macintosh, "tis620": charmap.Windows874,
}

// multiByteCharsets are decoded with x/text's WHATWG tables, which are
// supersets of MySQL's (cp932 and sjis share WHATWG Shift_JIS, ujis and
// eucjpms its EUC-JP): exact for any value valid in the column's charset.
var multiByteCharsets = map[string]encoding.Encoding{
	"big5": traditionalchinese.Big5, "gbk": simplifiedchinese.GBK, "gb2312": simplifiedchinese.GBK,
	"gb18030": simplifiedchinese.GB18030, "sjis": japanese.ShiftJIS, "cp932": japanese.ShiftJIS,
	"ujis": japanese.EUCJP, "eucjpms": japanese.EUCJP, "euckr": korean.EUCKR,
}

// NewTextDecoder returns the decoder of a MySQL character set, or false
// when Tidemark cannot convert it exactly (dec8, hp8, swe7, armscii8,
// keybcs2, macce, geostd8, ...): such a column is an UnsupportedTypeError
// rather than a silently garbled string.
func NewTextDecoder(charset string) (*TextDecoder, bool) {
	switch charset {
	case "utf8mb4", "utf8mb3", "utf8":
		return &TextDecoder{charset: charset, kind: decUTF8}, true
	case "ascii":
		// Bytes above 0x7f cannot be stored in an ascii column; decode as
		// latin1 so that a stray one still yields valid UTF-8.
		return &TextDecoder{charset: charset, kind: decSingleByte, table: latin1Table()}, true
	case "ucs2":
		return &TextDecoder{charset: charset, kind: decUCS2}, true
	case "utf16":
		return &TextDecoder{charset: charset, kind: decUTF16}, true
	case "utf16le":
		return &TextDecoder{charset: charset, kind: decUTF16LE}, true
	case "utf32":
		return &TextDecoder{charset: charset, kind: decUTF32}, true
	case "latin1":
		return &TextDecoder{charset: charset, kind: decSingleByte, table: latin1Table()}, true
	}
	if cm, ok := singleByteCharsets[charset]; ok {
		var t [256]rune
		for i := range t {
			t[i] = cm.DecodeByte(byte(i))
		}
		return &TextDecoder{charset: charset, kind: decSingleByte, table: &t}, true
	}
	if enc, ok := multiByteCharsets[charset]; ok {
		return &TextDecoder{charset: charset, kind: decXText, enc: enc}, true
	}
	return nil, false
}

func latin1Table() *[256]rune {
	var t [256]rune
	for i := range t {
		r := charmap.Windows1252.DecodeByte(byte(i))
		if r == utf8.RuneError {
			r = rune(i)
		}
		t[i] = r
	}
	return &t
}

// Decode converts s to valid UTF-8. UTF-8 and ASCII-only values are returned
// as they are, without copying.
func (d *TextDecoder) Decode(s string) string {
	switch d.kind {
	case decUTF8:
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	case decSingleByte:
		i := 0
		for i < len(s) && s[i] < utf8.RuneSelf {
			i++
		}
		if i == len(s) {
			return s
		}
		b := make([]byte, i, len(s)+(len(s)-i))
		copy(b, s[:i])
		for _, c := range []byte(s[i:]) {
			b = utf8.AppendRune(b, d.table[c])
		}
		return unsafe.String(unsafe.SliceData(b), len(b))
	case decUCS2, decUTF16, decUTF16LE:
		u := make([]uint16, len(s)/2)
		for i := range u {
			if d.kind == decUTF16LE {
				u[i] = uint16(s[2*i]) | uint16(s[2*i+1])<<8
			} else {
				u[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
			}
		}
		if d.kind == decUCS2 {
			// UCS-2 has no surrogates; a lone one cannot be valid text.
			b := make([]byte, 0, len(u)*3)
			for _, c := range u {
				b = utf8.AppendRune(b, rune(c))
			}
			return string(b)
		}
		return string(utf16.Decode(u))
	case decUTF32:
		b := make([]byte, 0, len(s))
		for i := 0; i+4 <= len(s); i += 4 {
			r := rune(uint32(s[i])<<24 | uint32(s[i+1])<<16 | uint32(s[i+2])<<8 | uint32(s[i+3]))
			b = utf8.AppendRune(b, r) // invalid code points become U+FFFD
		}
		return string(b)
	default:
		out, err := d.enc.NewDecoder().String(s)
		if err != nil {
			return strings.ToValidUTF8(s, "\uFFFD")
		}
		if !utf8.ValidString(out) {
			return strings.ToValidUTF8(out, "\uFFFD")
		}
		return out
	}
}

// bytesAsString views b as a string without copying. The reader only uses it
// for bytes go-mysql decoded into a freshly allocated packet buffer that
// nothing writes to afterwards (go-mysql itself hands VARCHAR values over
// this way), so the string stays immutable.
func bytesAsString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// sameString reports whether a and b are the same string in memory (not
// merely equal), a constant-time way to see that a decoder returned its
// input unchanged.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}
