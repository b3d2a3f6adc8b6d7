package mysql

// Date and time helpers for the canonical temporal values (schema/value.go).
// go-mysql hands dates, times and pre-1970 datetimes over as text
// ("2024-05-06", "-838:59:59.000000", "1969-07-20 20:17:40.000000"); these
// parse that text without allocating and compute epoch offsets with the
// proleptic Gregorian calendar, as MySQL and Debezium (java.time) do.

const (
	microsPerSecond = 1_000_000
	secondsPerDay   = 86_400
)

// daysFromCivil is the number of days from 1970-01-01 to y-m-d (Howard
// Hinnant's algorithm; exact for every year MySQL stores, 0..9999).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// digits parses s[i:i+n] as a decimal number.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseDate parses "YYYY-MM-DD".
func parseDate(s string) (y, m, d int, ok bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	return y, m, d, ok1 && ok2 && ok3 && m <= 12 && d <= 31
}

// fraction parses the digits after a decimal point (1..6 of them) as
// microseconds.
func fraction(s string) (int, bool) {
	if len(s) == 0 || len(s) > 6 {
		return 0, false
	}
	v, ok := digits(s, 0, len(s))
	for range 6 - len(s) {
		v *= 10
	}
	return v, ok
}

// parseDateTime parses "YYYY-MM-DD HH:MM:SS[.ffffff]".
func parseDateTime(s string) (y, mo, d, h, mi, sec, usec int, ok bool) {
	if len(s) < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return
	}
	if y, mo, d, ok = parseDate(s[:10]); !ok {
		return
	}
	h, ok1 := digits(s, 11, 2)
	mi, ok2 := digits(s, 14, 2)
	sec, ok3 := digits(s, 17, 2)
	ok = ok1 && ok2 && ok3 && h < 24 && mi < 60 && sec < 60
	if ok && len(s) > 19 {
		if s[19] != '.' {
			return y, mo, d, h, mi, sec, 0, false
		}
		usec, ok = fraction(s[20:])
	}
	return
}

// parseTime parses a TIME value, "[-]H...H:MM:SS[.ffffff]" (hours may exceed
// 24: the range is -838:59:59.000000 to 838:59:59.000000), as microseconds.
func parseTime(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	colon := -1
	for i := 0; i < len(s) && i < 4; i++ {
		if s[i] == ':' {
			colon = i
			break
		}
	}
	if colon < 1 || len(s) < colon+6 || s[colon+3] != ':' {
		return 0, false
	}
	h, ok1 := digits(s, 0, colon)
	m, ok2 := digits(s, colon+1, 2)
	sec, ok3 := digits(s, colon+4, 2)
	if !ok1 || !ok2 || !ok3 || m > 59 || sec > 59 {
		return 0, false
	}
	usec := 0
	if rest := s[colon+6:]; rest != "" {
		var ok bool
		if rest[0] != '.' {
			return 0, false
		}
		if usec, ok = fraction(rest[1:]); !ok {
			return 0, false
		}
	}
	v := (int64(h)*3600+int64(m)*60+int64(sec))*microsPerSecond + int64(usec)
	if neg {
		v = -v
	}
	return v, true
}

// AppendISOTimestamp appends the UTC instant unixSec.usec as ISO-8601 with
// exactly fsp fraction digits and a Z suffix: "2024-05-06T07:08:09.123456Z"
// (Debezium's ZonedTimestamp for a TIMESTAMP(fsp) column).
func AppendISOTimestamp(b []byte, unixSec int64, usec int, fsp int) []byte {
	days := unixSec / secondsPerDay
	rem := unixSec % secondsPerDay
	if rem < 0 {
		rem += secondsPerDay
		days--
	}
	y, m, d := civilFromDays(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem%3600/60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	if fsp > 0 {
		b = append(b, '.')
		div := 100000
		for range fsp {
			b = append(b, byte('0'+usec/div%10))
			div /= 10
		}
	}
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
