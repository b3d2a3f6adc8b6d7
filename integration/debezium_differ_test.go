package integration

// The comparison of TestDebeziumDifferential: captures of one topic (its
// registered key and value schemas, its records decoded by fastavro), and a
// structural diff of two captures that reports every difference not
// explained by an allowed one.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/tidemark-cdc/tidemark/serde"
	"io"
	"net/http"
	"os"
	osexec "os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// diffCapture is one topic as a consumer sees it.
type diffCapture struct {
	Topic                  string
	KeySchema, ValueSchema any // ordered JSON (jsonObj), as registered
	Records                []diffRecord
}

type diffRecord struct {
	Key, Value any // ordered JSON of fastavro's decoding; Value nil: tombstone
	Headers    map[string]string
}

// jsonObj is a JSON object with its keys in document order, so that a
// diff also sees the order of fields and properties.
type jsonObj []jsonKV

type jsonKV struct {
	K string
	V any
}

func (o jsonObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.K)
		v, err := json.Marshal(kv.V)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o jsonObj) get(k string) any {
	for _, kv := range o {
		if kv.K == k {
			return kv.V
		}
	}
	return nil
}

// parseOrdered parses JSON keeping object key order and exact numbers.
func parseOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return readOrdered(dec)
}

func readOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := jsonObj{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readOrdered(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, jsonKV{kt.(string), v})
			}
			_, err := dec.Token()
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readOrdered(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
	}
	return tok, nil
}

// captureOf reads the schemas each record names (Apicurio's v2 API gives
// the registered text as it was sent) and decodes the records with fastavro.
func captureOf(t *testing.T, s *Stack, topic string, recs []kafkaRecord) *diffCapture {
	t.Helper()
	c := &diffCapture{Topic: topic}
	keyID, valueID := -1, -1
	for _, r := range recs {
		for _, part := range []struct {
			data []byte
			id   *int
		}{{r.Key, &keyID}, {r.Value, &valueID}} {
			if part.data == nil {
				continue
			}
			if len(part.data) < 5 || part.data[0] != 0 {
				t.Fatalf("%s: a record is not Confluent-framed: %x", topic, part.data)
			}
			id := int(binary.BigEndian.Uint32(part.data[1:5]))
			if *part.id >= 0 && *part.id != id {
				t.Fatalf("%s: records under schema ids %d and %d; the test expects one version", topic, *part.id, id)
			}
			*part.id = id
		}
	}
	c.KeySchema = registeredSchema(t, s, keyID)
	c.ValueSchema = registeredSchema(t, s, valueID)

	var in strings.Builder
	for _, r := range recs {
		line := map[string]any{"key": base64.StdEncoding.EncodeToString(r.Key), "value": nil}
		if r.Value != nil {
			line["value"] = base64.StdEncoding.EncodeToString(r.Value)
		}
		b, _ := json.Marshal(line)
		in.Write(b)
		in.WriteByte('\n')
	}
	py := strings.TrimSpace(os.Getenv("TIDEMARK_TEST_PYTHON"))
	if py == "" {
		unavailable(t, "TIDEMARK_TEST_PYTHON (a python with fastavro) is not set; run: eval \"$(stack/stack env)\"")
	}
	cmd := osexec.Command(py, "testdata/fastavro_decode.py", s.RegistryURL)
	cmd.Stdin = strings.NewReader(in.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fastavro on %s: %v\n%s", topic, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("fastavro decoded %d of %d records of %s", len(lines), len(recs), topic)
	}
	for i, line := range lines {
		v, err := parseOrdered([]byte(line))
		if err != nil {
			t.Fatalf("fastavro output %q: %v", line, err)
		}
		obj := v.(jsonObj)
		rec := diffRecord{Key: obj.get("key"), Value: obj.get("value"), Headers: map[string]string{}}
		for k, h := range recs[i].Headers {
			rec.Headers[k] = string(h)
		}
		c.Records = append(c.Records, rec)
	}
	return c
}

func registeredSchema(t *testing.T, s *Stack, id int) any {
	t.Helper()
	if id < 0 {
		return nil
	}
	base := s.RegistryURL
	if i := strings.Index(base, "/apis/"); i >= 0 {
		base = base[:i]
	}
	resp, err := http.Get(fmt.Sprintf("%s/apis/registry/v2/ids/contentIds/%d", base, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("schema content id %d: %s: %s", id, resp.Status, body)
	}
	v, err := parseOrdered(body)
	if err != nil {
		t.Fatalf("schema content id %d: %v", id, err)
	}
	return v
}

// diffAllowed says whether a difference at path (theirs is Debezium's
// value, ours Tidemark's; absent is diffAbsent) is an expected one.
type diffAllowed func(path string, theirs, ours any) bool

// diffAbsent stands for a missing object key or header.
var diffAbsent = &struct{ absent bool }{true}

var (
	mariadbGTID = regexp.MustCompile(`^\d+-\d+-\d+$`)
	uuidText    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// mariadbFields are the differences from the MySQL connector that runs
// in the test which are Debezium's MariaDB connector's own output, and the
// fields that differ between any two runs.
func mariadbFields(path string, theirs, ours any) bool {
	switch {
	case strings.HasSuffix(path, ".value.source.connector"),
		strings.HasSuffix(path, ".headers.__debezium.context.connectorName"):
		// MariaDB connector: "mariadb".
		return theirs == "mysql" && ours == "mariadb"
	case strings.HasSuffix(path, ".value.source.gtid"):
		// The MySQL connector does not read MariaDB GTIDs; the MariaDB
		// connector writes the transaction's domain-server-sequence.
		s, ok := ours.(string)
		return theirs == nil && ok && mariadbGTID.MatchString(s)
	case strings.HasSuffix(path, ".value.source.version"):
		return theirs == "3.6.1.Final" && ours != diffAbsent
	case strings.HasSuffix(path, ".headers."+serde.HeaderEventID):
		// Tidemark's own record id (docs/wire-format.md, "Headers and
		// delivery"), checked by the exactly-once tests.
		return theirs == diffAbsent && ours != diffAbsent
	case strings.HasSuffix(path, ".headers.__debezium.context.runId"):
		a, aok := theirs.(string)
		b, bok := ours.(string)
		return aok && bok && uuidText.MatchString(a) && uuidText.MatchString(b)
	case strings.HasSuffix(path, ".value.ts_ms"), strings.HasSuffix(path, ".value.ts_us"), strings.HasSuffix(path, ".value.ts_ns"):
		_, aok := theirs.(json.Number) // processing time: both set
		_, bok := ours.(json.Number)
		return aok && bok
	}
	return false
}

// diffDeviation is one row of docs/wire-format.md's deviations table.
type diffDeviation struct {
	option string // the encoding.* setting that gives Debezium's behaviour
	allows diffAllowed
}

func columnPath(path string, cols ...string) bool {
	for _, c := range cols {
		if strings.Contains(path, "fields["+c+"]") || strings.HasSuffix(path, "."+c) {
			return true
		}
	}
	return false
}

// diffDeviations: where Tidemark with its defaults differs from Debezium
// on the test's tables. The values Tidemark writes there are checked
// against MariaDB by checkDeviationValues and checkDefaultsAreStored.
var diffDeviations = []diffDeviation{
	{"encoding.bigint_unsigned: long", func(path string, _, _ any) bool { return columnPath(path, "biu") }},
	{"encoding.year_0000: debezium", func(path string, theirs, ours any) bool {
		return columnPath(path, "y", "ynn") && fmt.Sprint(theirs) == "1900" && fmt.Sprint(ours) == "0"
	}},
	{"encoding.year_0_dates: debezium", func(path string, _, _ any) bool {
		return strings.Contains(path, ".value.") && columnPath(path, "dy0", "dty0")
	}},
	{"encoding.latin1: debezium", func(path string, _, _ any) bool {
		return strings.Contains(path, ".value.") && columnPath(path, "l1t")
	}},
	{"encoding.string_defaults: debezium", func(path string, _, _ any) bool {
		return strings.HasPrefix(path, "value-schema") && columnPath(path, "vq", "bin", "bs") &&
			(strings.HasSuffix(path, ".default") || strings.HasSuffix(path, ".connect.default"))
	}},
	{"encoding.context_headers: true", func(path string, _, ours any) bool {
		return strings.Contains(path, ".headers.__debezium.context.") && ours == diffAbsent
	}},
}

// differ reports the differences between two captures.
type differ struct{ t *testing.T }

func (d *differ) compare(name string, theirs, ours *diffCapture, deviations []diffDeviation) {
	d.t.Helper()
	var diffs []string
	report := func(path string, a, b any) {
		if mariadbFields(path, a, b) {
			return
		}
		for _, dev := range deviations {
			if dev.allows(path, a, b) {
				return
			}
		}
		diffs = append(diffs, fmt.Sprintf("%s:\n    debezium %s\n    tidemark %s", path, show(a), show(b)))
	}
	norm := func(c *diffCapture, v any) any { return renameTopic(v, c.Topic) }
	diffJSON("key-schema", norm(theirs, theirs.KeySchema), norm(ours, ours.KeySchema), report)
	diffJSON("value-schema", norm(theirs, theirs.ValueSchema), norm(ours, ours.ValueSchema), report)

	// Records by key, in each key's order (one partition per key on both).
	group := func(c *diffCapture) (map[string][]diffRecord, []string) {
		m := map[string][]diffRecord{}
		var order []string
		for _, r := range c.Records {
			k := string(mustJSON(r.Key))
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] = append(m[k], r)
		}
		sort.Strings(order)
		return m, order
	}
	tg, keys := group(theirs)
	og, okeys := group(ours)
	if strings.Join(keys, " ") != strings.Join(okeys, " ") {
		diffs = append(diffs, fmt.Sprintf("record keys: debezium %v, tidemark %v", keys, okeys))
	}
	for _, k := range keys {
		a, b := tg[k], og[k]
		if len(a) != len(b) {
			diffs = append(diffs, fmt.Sprintf("key %s: debezium %d records, tidemark %d", k, len(a), len(b)))
			continue
		}
		for i := range a {
			p := fmt.Sprintf("record[key=%s]#%d", k, i)
			diffJSON(p+".value", a[i].Value, b[i].Value, report)
			ha, hb := map[string]any{}, map[string]any{}
			for hk, hv := range a[i].Headers {
				ha[hk] = hv
			}
			for hk, hv := range b[i].Headers {
				hb[hk] = hv
			}
			for _, hk := range unionKeys(ha, hb) {
				av, aok := ha[hk]
				bv, bok := hb[hk]
				if !aok {
					av = diffAbsent
				}
				if !bok {
					bv = diffAbsent
				}
				if av != bv {
					report(p+".headers."+hk, av, bv)
				}
			}
		}
	}
	if len(diffs) > 0 {
		d.t.Errorf("%s differs from Debezium in %d places:\n  %s", name, len(diffs), strings.Join(diffs, "\n  "))
	}
}

// diffJSON walks two ordered JSON values and reports each difference: a
// changed scalar, a missing key, a different key order, a different length.
func diffJSON(path string, a, b any, report func(path string, a, b any)) {
	switch x := a.(type) {
	case jsonObj:
		y, ok := b.(jsonObj)
		if !ok {
			report(path, a, b)
			return
		}
		var ka, kb []string
		for _, kv := range x {
			ka = append(ka, kv.K)
			sub := path + "." + kv.K
			if bv, found := lookup(y, kv.K); found {
				diffJSON(sub, kv.V, bv, report)
			} else {
				report(sub, kv.V, diffAbsent)
			}
		}
		for _, kv := range y {
			kb = append(kb, kv.K)
			if _, found := lookup(x, kv.K); !found {
				report(path+"."+kv.K, diffAbsent, kv.V)
			}
		}
		if common(ka, kb) && strings.Join(ka, ",") != strings.Join(kb, ",") {
			report(path+" (property order)", strings.Join(ka, ","), strings.Join(kb, ","))
		}
	case []any:
		y, ok := b.([]any)
		if !ok {
			report(path, a, b)
			return
		}
		if len(x) != len(y) {
			report(path+" (length)", len(x), len(y))
			return
		}
		for i := range x {
			diffJSON(path+"["+elemName(x[i], i)+"]", x[i], y[i], report)
		}
	default:
		if a != b {
			report(path, a, b)
		}
	}
}

func lookup(o jsonObj, k string) (any, bool) {
	for _, kv := range o {
		if kv.K == k {
			return kv.V, true
		}
	}
	return nil, false
}

// common reports whether two key lists hold the same keys.
func common(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

// elemName names an array element by its "name" (record fields) or index.
func elemName(v any, i int) string {
	if o, ok := v.(jsonObj); ok {
		if n, ok := o.get("name").(string); ok {
			return n
		}
	}
	return fmt.Sprint(i)
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// renameTopic replaces a capture's topic name in every string (schema
// namespaces and connect.name), so that two topics' schemas compare.
func renameTopic(v any, topic string) any {
	switch x := v.(type) {
	case jsonObj:
		out := make(jsonObj, len(x))
		for i, kv := range x {
			out[i] = jsonKV{kv.K, renameTopic(kv.V, topic)}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = renameTopic(x[i], topic)
		}
		return out
	case string:
		return strings.ReplaceAll(x, topic, "<topic>")
	}
	return v
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func show(v any) string {
	if v == diffAbsent {
		return "(absent)"
	}
	s := string(mustJSON(v))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
