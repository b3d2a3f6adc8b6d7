package router

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Rewrite maps physical (shard) database names to a logical one, so that
// every shard of a table writes to one topic: Match `shop_shard_\d+`,
// Replace `shop`.
type Rewrite struct {
	// Match is a regular expression (RE2 syntax) anchored at both ends: it
	// must match the whole database name.
	Match string
	// Replace is the logical name, a regexp.Expand template: $1 or ${1}
	// for a group, ${name} for a named group, $$ for a literal $.
	Replace string
}

// NamerOption adjusts a TopicNamer.
type NamerOption func(*TopicNamer)

// WithDelimiter sets the separator between prefix, database and table,
// overriding "." (Debezium's topic.delimiter).
func WithDelimiter(d string) NamerOption { return func(n *TopicNamer) { n.delim = d } }

// TopicNamer names the topic of a table: <prefix>.<logical database>.<table>
// (Debezium's default naming; the prefix and its delimiter are left out when
// the prefix is empty). The logical database is the physical one rewritten
// by the first Rewrite that matches it, or unchanged. Characters Kafka does
// not allow in topic names (anything but ASCII letters, digits, '.', '_' and
// '-') become '_', as Debezium does.
//
// A TopicNamer is safe for concurrent use. Names are cached: a repeated
// (database, table) costs one map lookup under a read lock and no allocation.
type TopicNamer struct {
	prefix   string
	delim    string
	rewrites []rewrite

	mu    sync.RWMutex
	cache map[tableID]string
}

type rewrite struct {
	re      *regexp.Regexp
	replace string
}

type tableID struct{ database, table string }

// NewTopicNamer compiles the rewrites. It reports every invalid pattern and
// every replacement that refers to a group its pattern does not have (which
// would silently expand to nothing and merge unrelated databases).
func NewTopicNamer(prefix string, rewrites []Rewrite, opts ...NamerOption) (*TopicNamer, error) {
	n := &TopicNamer{prefix: prefix, delim: ".", cache: make(map[tableID]string)}
	for _, o := range opts {
		o(n)
	}
	var problems []string
	for i, rw := range rewrites {
		re, err := regexp.Compile(`^(?:` + rw.Match + `)$`)
		if err != nil {
			problems = append(problems, fmt.Sprintf("rewrite %d: match %q: %v", i+1, rw.Match, err))
			continue
		}
		if err := checkTemplate(re, rw.Replace); err != nil {
			problems = append(problems, fmt.Sprintf("rewrite %d: replace %q: %v", i+1, rw.Replace, err))
			continue
		}
		n.rewrites = append(n.rewrites, rewrite{re: re, replace: rw.Replace})
	}
	if n.delim == "" {
		problems = append(problems, "delimiter is empty")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: topic naming: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return n, nil
}

// Topic returns the topic of table in the physical database. It is the hot
// path of every record: cached, no allocation on a hit.
func (n *TopicNamer) Topic(database, table string) string {
	n.mu.RLock()
	t, ok := n.cache[tableID{database, table}]
	n.mu.RUnlock()
	if ok {
		return t
	}
	t = n.name(database, table)
	n.mu.Lock()
	n.cache[tableID{database, table}] = t
	n.mu.Unlock()
	return t
}

// LogicalDatabase returns database rewritten by the first matching Rewrite,
// or unchanged.
func (n *TopicNamer) LogicalDatabase(database string) string {
	for _, rw := range n.rewrites {
		if m := rw.re.FindStringSubmatchIndex(database); m != nil {
			return string(rw.re.ExpandString(nil, rw.replace, database, m))
		}
	}
	return database
}

func (n *TopicNamer) name(database, table string) string {
	var b strings.Builder
	if n.prefix != "" {
		b.WriteString(n.prefix)
		b.WriteString(n.delim)
	}
	b.WriteString(n.LogicalDatabase(database))
	b.WriteString(n.delim)
	b.WriteString(table)
	return sanitizeTopic(b.String())
}

// checkTemplate verifies that every $reference in tmpl names a group of re,
// following regexp.Expand's syntax.
func checkTemplate(re *regexp.Regexp, tmpl string) error {
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			continue
		}
		rest := tmpl[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "$"):
			i++
			continue
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return fmt.Errorf("unterminated ${ at byte %d", i)
			}
			name = rest[1:end]
			i += end + 1
		default:
			j := 0
			for j < len(rest) && isNameByte(rest[j]) {
				j++
			}
			name = rest[:j]
			i += j
		}
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return r > 0x7f || !isNameByte(byte(r)) }) >= 0 {
			return fmt.Errorf("malformed reference at byte %d (write $$ for a literal $)", i)
		}
		if num, err := strconv.Atoi(name); err == nil {
			if num > re.NumSubexp() {
				return fmt.Errorf("refers to group %d, but the pattern has %d", num, re.NumSubexp())
			}
			continue
		}
		if re.SubexpIndex(name) < 0 {
			return fmt.Errorf("refers to group %q, which the pattern does not have (write ${1}x, not $1x, for group 1 followed by x)", name)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isTopicByte(c byte) bool { return c == '.' || c == '-' || isNameByte(c) }

// sanitizeTopic replaces every character Kafka does not allow in a topic
// name with '_' (one per rune), like Debezium's topic naming strategies.
func sanitizeTopic(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !isTopicByte(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && isTopicByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// validTopicName reports whether Kafka accepts s as a topic name.
func validTopicName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 249 && sanitizeTopic(s) == s
}
