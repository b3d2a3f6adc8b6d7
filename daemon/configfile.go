package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ConfigError lists every problem of a configuration file, each naming the
// file, the line and the key, e.g.
//
//	tidemark.yaml:12: shards[0].port: must be 1..65535, got 0
type ConfigError struct {
	File     string
	Problems []ConfigProblem
}

// ConfigProblem is one located problem. Line is 0 when the file has no line
// for it (a required key missing from an empty file).
type ConfigProblem struct {
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d: %s: %s", e.File, p.Line, p.Key, p.Msg)
	}
	return b.String()
}

// LoadConfig reads, strictly decodes and validates a configuration file. An
// unknown key, a value of the wrong type, a missing required key or an
// invalid value is a *ConfigError naming file, line and key; all validation
// problems are reported at once. Passwords are read from the environment
// variables the file names (getenv; os.Getenv when nil) only to check they
// are set: the Config never holds them.
func LoadConfig(file string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(file, src, getenv)
}

func parseConfig(file string, src []byte, getenv func(string) string) (_ *Config, err error) {
	// go-yaml panics on a few malformed inputs (found by FuzzParseConfig,
	// e.g. a tag on a sequence key); a bad file must be an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = &ConfigError{File: file, Problems: []ConfigProblem{{Key: "(file)", Msg: fmt.Sprintf("malformed YAML: %v", r)}}}
		}
	}()
	paths := map[int]string{}     // byte offset of a value's first token → its key path
	lines := map[string]int{}     // key path → line
	values := map[string]string{} // a scalar value's text → the first path holding it
	tree, perr := parser.ParseBytes(src, 0)
	if perr == nil {
		indexPaths(tree, paths, lines, values)
	}

	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(src), yaml.DisallowUnknownField())
	// An empty file decodes to the zero Config (io.EOF), which then fails
	// validation with "required" problems.
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ConfigError{File: file, Problems: []ConfigProblem{decodeProblem(err, paths, lines, values)}}
	}
	c.applyDefaults()
	fieldErrs := c.validate(getenv)
	if len(fieldErrs) == 0 {
		return &c, nil
	}
	ce := &ConfigError{File: file}
	for _, fe := range fieldErrs {
		ce.Problems = append(ce.Problems, ConfigProblem{Line: lineOf(fe.path, lines), Key: fe.path, Msg: fe.msg})
	}
	sort.SliceStable(ce.Problems, func(i, j int) bool { return ce.Problems[i].Line < ce.Problems[j].Line })
	return nil, ce
}

// decodeProblem turns a go-yaml error into a located problem.
func decodeProblem(err error, paths map[int]string, lines map[string]int, values map[string]string) ConfigProblem {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		// go-yaml passes some conversions' errors on without a position
		// (time.ParseDuration's: `time: invalid duration "six hours"`):
		// locate the value the message quotes.
		for _, m := range quotedValue.FindAllStringSubmatch(err.Error(), -1) {
			if path, ok := values[m[1]]; ok {
				return ConfigProblem{Line: lineOf(path, lines), Key: path, Msg: fmt.Sprintf("wrong type: %q is not valid here (%v)", m[1], err)}
			}
		}
		return ConfigProblem{Key: "(file)", Msg: err.Error()}
	}
	tk := ye.GetToken()
	p := ConfigProblem{Line: tk.Position.Line, Msg: ye.GetMessage()}
	var unknown *yaml.UnknownFieldError
	switch {
	case errors.As(err, &unknown):
		// The token is the unknown key itself; name its full path.
		p.Key = paths[tk.Position.Offset]
		if p.Key == "" {
			p.Key = tk.Value
		}
		p.Msg = fmt.Sprintf("unknown key %q (check its spelling and indentation against configs/tidemark.example.yaml)", tk.Value)
	default:
		p.Key = paths[tk.Position.Offset]
		if p.Key == "" {
			p.Key = "(value " + tk.Value + ")"
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			p.Msg = fmt.Sprintf("wrong type: %s is not a valid %s", describeToken(tk.Value), te.DstType)
		}
	}
	return p
}

var quotedValue = regexp.MustCompile(`"([^"]*)"`)

func describeToken(v string) string {
	if v == "" {
		return "an empty value"
	}
	return fmt.Sprintf("%q", v)
}

// indexPaths records, for every mapping key and value and every sequence
// item, its dotted path ("shards[0].tables[1].include") by the offset of its
// first token, and the line of each path.
func indexPaths(f *ast.File, paths map[int]string, lines map[string]int, values map[string]string) {
	var walk func(n ast.Node, p string)
	walk = func(n ast.Node, p string) {
		if n == nil || reflect.ValueOf(n).IsNil() { // go-yaml's AST holds typed nils
			return
		}
		if d, ok := n.(*ast.DocumentNode); ok {
			walk(d.Body, p)
			return
		}
		if tk := n.GetToken(); tk != nil && p != "" {
			if _, ok := paths[tk.Position.Offset]; !ok {
				paths[tk.Position.Offset] = p
			}
			if _, ok := lines[p]; !ok {
				lines[p] = tk.Position.Line
			}
		}
		switch v := n.(type) {
		case ast.ScalarNode:
			if tk := v.GetToken(); tk != nil && p != "" {
				if _, ok := values[tk.Value]; !ok {
					values[tk.Value] = p
				}
			}
		case *ast.MappingNode:
			for _, mv := range v.Values {
				walk(mv, p)
			}
		case *ast.MappingValueNode:
			key := strings.Trim(v.Key.String(), `"'`)
			kp := key
			if p != "" {
				kp = p + "." + key
			}
			if tk := v.Key.GetToken(); tk != nil {
				paths[tk.Position.Offset] = kp
				lines[kp] = tk.Position.Line
			}
			walk(v.Value, kp)
		case *ast.SequenceNode:
			for i, item := range v.Values {
				walk(item, fmt.Sprintf("%s[%d]", p, i))
			}
		case *ast.TagNode:
			walk(v.Value, p)
		case *ast.AnchorNode:
			walk(v.Value, p)
		}
	}
	for _, d := range f.Docs {
		walk(d, "")
	}
}

// lineOf finds the line of a key path, or of its nearest ancestor present in
// the file (a missing required key is reported where its parent is).
func lineOf(path string, lines map[string]int) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
