package binlog

import (
	"strings"
	"unicode/utf8"
)

// The reader does not interpret DDL: table shapes come from table-map
// events. It only needs to know which tables a DDL statement may have
// changed, to drop their cached information_schema view (see
// mysql/tablebuild.go). ddlTargets is therefore deliberately lenient: it names
// the tables of the statements that change a table's columns or keys, says
// "all" when it cannot tell, and nothing for statements that change no
// table (GRANT, CREATE VIEW, ...). Over-invalidating costs a metadata query;
// under-invalidating is what must not happen.

// ddlTargets returns the tables ("db.table", lower case) a statement may
// change, with defaultDB qualifying bare names; all is true when it may
// change tables it does not name.
func ddlTargets(query, defaultDB string) (tables []string, all bool) {
	toks := sqlTokens(query, 64)
	if len(toks) == 0 {
		return nil, false
	}
	kw := func(i int) string {
		if i < len(toks) && !toks[i].quoted {
			return strings.ToUpper(toks[i].text)
		}
		return ""
	}
	// name reads a possibly qualified table name at i; it returns the name
	// and the index after it.
	name := func(i int) (string, int) {
		if i >= len(toks) || toks[i].text == "," || toks[i].text == "(" {
			return "", i
		}
		db, tbl := defaultDB, toks[i].text
		i++
		if i+1 < len(toks) && toks[i].text == "." {
			db, tbl = tbl, toks[i+1].text
			i += 2
		}
		return strings.ToLower(db + "." + tbl), i
	}
	skip := func(i int, words ...string) int {
		for _, w := range words {
			if kw(i) == w {
				i++
			}
		}
		return i
	}
	switch kw(0) {
	case "ALTER":
		i := skip(1, "ONLINE", "IGNORE")
		switch kw(i) {
		case "TABLE":
			i = skip(i+1, "IF", "EXISTS")
			if n, _ := name(i); n != "" {
				return []string{n}, false
			}
			return nil, true
		case "DATABASE", "SCHEMA", "VIEW", "EVENT", "FUNCTION", "PROCEDURE", "USER", "SERVER",
			"SEQUENCE", "TABLESPACE", "LOGFILE", "INSTANCE", "RESOURCE":
			return nil, false
		}
	case "CREATE":
		i := skip(1, "OR", "REPLACE")
		i = skip(i, "TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL")
		switch kw(i) {
		case "TABLE":
			i = skip(i+1, "IF", "NOT", "EXISTS")
			if n, _ := name(i); n != "" {
				return []string{n}, false
			}
			return nil, true
		case "INDEX":
			return onTable(toks, kw, name)
		case "DATABASE", "SCHEMA", "VIEW", "EVENT", "FUNCTION", "PROCEDURE", "TRIGGER", "USER", "ROLE",
			"SERVER", "SEQUENCE", "ALGORITHM", "DEFINER", "SQL", "AGGREGATE", "TABLESPACE", "LOGFILE",
			"PACKAGE", "RESOURCE", "SPATIAL_REFERENCE_SYSTEM":
			return nil, false
		}
	case "DROP":
		i := skip(1, "TEMPORARY")
		switch kw(i) {
		case "TABLE", "TABLES":
			i = skip(i+1, "IF", "EXISTS")
			for {
				n, next := name(i)
				if n == "" {
					break
				}
				tables = append(tables, n)
				if next >= len(toks) || toks[next].text != "," {
					break
				}
				i = next + 1
			}
			return tables, len(tables) == 0
		case "INDEX":
			return onTable(toks, kw, name)
		case "DATABASE", "SCHEMA":
			return nil, true
		case "VIEW", "EVENT", "FUNCTION", "PROCEDURE", "TRIGGER", "USER", "ROLE", "SERVER", "SEQUENCE",
			"TABLESPACE", "LOGFILE", "PACKAGE", "RESOURCE", "SPATIAL_REFERENCE_SYSTEM":
			return nil, false
		}
	case "RENAME":
		if kw(1) != "TABLE" && kw(1) != "TABLES" {
			return nil, false // RENAME USER
		}
		i := 2
		for i < len(toks) {
			n, next := name(i)
			if n == "" {
				return tables, true
			}
			tables = append(tables, n)
			i = next
			if i >= len(toks) || (kw(i) != "TO" && toks[i].text != ",") {
				break // end, or WAIT n / NOWAIT
			}
			i++
		}
		return tables, len(tables) == 0
	case "TRUNCATE":
		if n, _ := name(skip(1, "TABLE")); n != "" {
			return []string{n}, false
		}
		return nil, true
	case "GRANT", "REVOKE", "FLUSH", "ANALYZE", "OPTIMIZE", "REPAIR", "CHECK", "SET", "INSTALL",
		"UNINSTALL", "CALL", "DO", "SAVEPOINT", "RELEASE", "XA", "BEGIN", "COMMIT", "ROLLBACK",
		"START", "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", "SELECT", "LOCK", "UNLOCK", "PURGE":
		return nil, false
	}
	return nil, true
}

// onTable finds "ON tbl" in CREATE/DROP INDEX.
func onTable(toks []sqlToken, kw func(int) string, name func(int) (string, int)) ([]string, bool) {
	for i := range toks {
		if kw(i) == "ON" {
			if n, _ := name(i + 1); n != "" {
				return []string{n}, false
			}
		}
	}
	return nil, true
}

type sqlToken struct {
	text   string
	quoted bool // a `quoted` identifier (or a string literal)
}

// sqlTokens splits the start of a statement into at most limit tokens:
// words, `quoted identifiers`, string literals and single punctuation
// characters. Comments are skipped, except that the body of an executable
// comment (/*! ... */, /*M! ... */) is read as SQL, as the server does.
func sqlTokens(q string, limit int) []sqlToken {
	var out []sqlToken
	i := 0
	for i < len(q) && len(out) < limit {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '#' || (c == '-' && strings.HasPrefix(q[i:], "-- ")):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "/*!") || strings.HasPrefix(q[i:], "/*M!"):
			i += strings.IndexByte(q[i:], '!') + 1
			for i < len(q) && q[i] >= '0' && q[i] <= '9' {
				i++ // version number
			}
		case strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case strings.HasPrefix(q[i:], "*/"):
			i += 2 // end of an executable comment
		case c == '`' || c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				if q[j] == '\\' && c != '`' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
				j++
			}
			out = append(out, sqlToken{text: b.String(), quoted: true})
			i = j + 1
		case isIdentByte(c):
			j := i
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			out = append(out, sqlToken{text: q[i:j]})
			i = j
		default:
			_, size := utf8.DecodeRuneInString(q[i:])
			out = append(out, sqlToken{text: q[i : i+size]})
			i += size
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
