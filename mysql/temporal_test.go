package mysql

import (
	"strconv"
	"testing"
	"time"
)

func TestCivilDays(t *testing.T) {
	// Every day from year 0 to 9999 against the time package (proleptic
	// Gregorian, as MySQL and java.time).
	start := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := start; d.Year() < 10000; d = d.AddDate(0, 0, 1) {
		want := d.Unix() / secondsPerDay
		if got := daysFromCivil(d.Year(), int(d.Month()), d.Day()); got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", d.Format("2006-01-02"), got, want)
		}
		if y, m, dd := civilFromDays(want); y != d.Year() || m != int(d.Month()) || dd != d.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %s", want, y, m, dd, d.Format("2006-01-02"))
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:00:00", 0, true},
		{"-00:00:00.000001", -1, true},
		{"838:59:59.000000", 3020399000000, true},
		{"-838:59:59", -3020399000000, true},
		{"12:34:56.7", 45296700000, true},
		{"1:02:03", 3723000000, true},
		{"", 0, false},
		{"12:60:00", 0, false},
		{"12:00:00.1234567", 0, false},
		{"12:00:00x", 0, false},
		{"-:00:00", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseTime(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseTime(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAppendISOTimestamp(t *testing.T) {
	for _, sec := range []int64{0, 1, 951825600, 1714979289, 2147483647, 4294967295, -1, -86401} {
		for fsp := 0; fsp <= 6; fsp++ {
			usec := 123456
			layout := "2006-01-02T15:04:05"
			if fsp > 0 {
				layout += "." + "000000"[:fsp]
				usec = 123456 / pow10(6-fsp) * pow10(6-fsp)
			} else {
				usec = 0
			}
			want := time.Unix(sec, int64(usec)*1000).UTC().Format(layout) + "Z"
			if got := string(AppendISOTimestamp(nil, sec, usec, fsp)); got != want {
				t.Errorf("AppendISOTimestamp(%d, %d, %d) = %s, want %s", sec, usec, fsp, got, want)
			}
		}
	}
}

func pow10(n int) int {
	v := 1
	for range n {
		v *= 10
	}
	return v
}

// FuzzTemporal feeds arbitrary text to the parsers of go-mysql's temporal
// strings: they must never panic, and what they accept must round-trip.
func FuzzTemporal(f *testing.F) {
	for _, s := range []string{"2024-05-06", "0000-00-00", "2024-05-06 07:08:09.123456", "-838:59:59.000000", "12:00:00", "1969-12-31 23:59:59.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if y, m, d, ok := parseDate(s); ok {
			if got := pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2); got != s {
				t.Errorf("parseDate(%q) accepted as %s", s, got)
			}
		}
		_, _, _, _, _, _, _, _ = parseDateTime(s)
		if us, ok := parseTime(s); ok && (us > 1000*3600*microsPerSecond || us < -1000*3600*microsPerSecond) {
			t.Errorf("parseTime(%q) = %d out of range", s, us)
		}
	})
}

func pad(v, n int) string {
	s := strconv.Itoa(v)
	for len(s) < n {
		s = "0" + s
	}
	return s
}
