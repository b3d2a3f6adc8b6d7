package daemon

import (
	"net/url"
	"strings"
)

// redactedUserinfo replaces a URL's whole userinfo: the user part can be a
// secret too (https://TOKEN@host).
const redactedUserinfo = "REDACTED"

// RedactURL returns raw with its userinfo (user and password) replaced by
// REDACTED, for printing: every URL Tidemark prints (validate, logs, errors)
// goes through it. A URL that does not parse is redacted by text: whatever
// precedes the last '@' before the query is dropped, so a malformed URL with
// credentials never leaks them either.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.Opaque == "" {
		if u.User == nil {
			return raw
		}
		u.User = url.User(redactedUserinfo)
		return u.String()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	}
	authority := rest
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	out := redactedUserinfo + rest[at:]
	if ok {
		out = scheme + "://" + out
	}
	return out
}
