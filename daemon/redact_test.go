package daemon

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8081/apis/ccompat/v7", "http://127.0.0.1:8081/apis/ccompat/v7"},
		{"https://user:SECRET@registry:8081/x", "https://REDACTED@registry:8081/x"},
		{"http://SECRET@registry", "http://REDACTED@registry"},                 // a bare token as the user
		{"https://user:p%40SECRET@registry/", "https://REDACTED@registry/"},    // escaped '@' in the password
		{"https://user:pa/SECRET@registry/x", "https://REDACTED@registry/x"},   // unescaped '/': does not parse
		{"https://user:SECRET@reg istry/", "https://REDACTED@reg istry/"},      // bad host: does not parse
		{"user:SECRET@registry:8081", "REDACTED@registry:8081"},                // no scheme
		{"http://registry/subjects/a@b", "http://registry/subjects/a@b"},       // '@' in the path is not userinfo
		{"http://u:SECRET@registry/?q=a@b", "http://REDACTED@registry/?q=a@b"}, // '@' in the query neither
		{"", ""},
	} {
		got := RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "SECRET") {
			t.Errorf("RedactURL(%q) = %q shows the secret", tc.in, got)
		}
	}
}
