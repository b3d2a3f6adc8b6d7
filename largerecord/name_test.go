package largerecord

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Without a secret the name is exactly <topic>/<shard>/<event>/<row>-<first
// 32 hex of SHA-256>, computed here independently of contentHash.
func TestObjectNameLayout(t *testing.T) {
	plain := []byte("a large row")
	sum := sha256.Sum256(plain)
	want := "orders/shard-1/0-1-123/7-" + hex.EncodeToString(sum[:])[:32]
	got := ObjectName(Ref{Topic: "orders", Shard: "shard-1", Event: "0-1-123", Row: 7, Plaintext: plain})
	if got != want {
		t.Fatalf("ObjectName = %q, want %q", got, want)
	}
	mysql := ObjectName(Ref{Topic: "t", Shard: "s", Event: "3E11FA47-71CA-11E1-9E33-C80AA9429562:23", Plaintext: plain})
	if !strings.HasPrefix(mysql, "t/s/3E11FA47-71CA-11E1-9E33-C80AA9429562:23/0-") {
		t.Fatalf("MySQL GTID not kept readable: %q", mysql)
	}
}

// The name is a function of the Ref alone (retries name the same object);
// the secret changes the hash, and with a secret equal values in different
// rows do not share a hash.
func TestObjectNameDeterministicAndKeyed(t *testing.T) {
	ref := Ref{Topic: "t", Shard: "s", Event: "0-1-5", Row: 1, Plaintext: []byte("v"), Secret: []byte("k1")}
	if ObjectName(ref) != ObjectName(ref) {
		t.Fatal("not deterministic")
	}
	other := ref
	other.Secret = []byte("k2")
	if ObjectName(ref) == ObjectName(other) {
		t.Fatal("the secret does not key the hash")
	}
	unkeyed := ref
	unkeyed.Secret = nil
	if ObjectName(ref) == ObjectName(unkeyed) {
		t.Fatal("keyed and unkeyed hashes agree")
	}
	row2 := ref
	row2.Row = 2
	hash := func(r Ref) string { n := ObjectName(r); return n[strings.LastIndexByte(n, '-')+1:] }
	if hash(ref) == hash(row2) {
		t.Fatal("equal values in two rows share the keyed hash")
	}
	value2 := ref
	value2.Plaintext = []byte("w")
	if ObjectName(ref) == ObjectName(value2) {
		t.Fatal("another value of the same row has the same name")
	}
}

// Any topic and shard survive ObjectName → ParseObjectName, and the name
// stays four valid segments: no escape through "..", '/', or a hidden file.
func TestObjectNameEscapes(t *testing.T) {
	odd := []string{"..", ".", "../../etc", "/abs", "a/b", ".hidden", "%2E", "%", "ä ö", "\x00\n\x7f", "x?y#z*[]",
		"0-1-123", "3E11FA47-71CA-11E1-9E33-C80AA9429562:23", "snapshot 2024-01-01T00:00:00Z", "\xff\xfe"}
	for _, topic := range odd {
		for _, event := range odd {
			name := ObjectName(Ref{Topic: topic, Shard: topic + "!", Event: event, Row: 3, Plaintext: []byte(event)})
			if err := validName(name); err != nil {
				t.Fatalf("topic %q event %q: %v", topic, event, err)
			}
			if n := strings.Count(name, "/"); n != 3 {
				t.Fatalf("name %q has %d slashes", name, n)
			}
			gotTopic, gotShard, err := ParseObjectName(name)
			if err != nil || gotTopic != topic || gotShard != topic+"!" {
				t.Fatalf("ParseObjectName(%q) = %q, %q, %v; want %q, %q", name, gotTopic, gotShard, err, topic, topic+"!")
			}
		}
	}
}

func TestObjectNameEmptyFieldIsRefused(t *testing.T) {
	name := ObjectName(Ref{Topic: "t", Shard: "", Event: "e"})
	if err := validName(name); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("validName(%q) = %v, want ErrInvalidName", name, err)
	}
}

func TestParseObjectNameRejects(t *testing.T) {
	h := strings.Repeat("a", 32)
	for _, name := range []string{
		"", "t/s/e", "t/s/e/1-" + h + "/x", "/t/s/e/1-" + h, "t//e/1-" + h,
		"t/s/e/" + h, "t/s/e/x-" + h, "t/s/e/01-" + h, "t/s/e/1-" + h[:31], "t/s/e/1-" + strings.ToUpper(h),
		"t/s/../1-" + h, "t/%41/e/1-" + h, "t/s/%zz/1-" + h, "t/s/a b/1-" + h,
	} {
		if _, _, err := ParseObjectName(name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ParseObjectName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if topic, shard, err := ParseObjectName("t/s/e/-1-" + h); err != nil || topic != "t" || shard != "s" {
		t.Errorf("negative row: %q %q %v", topic, shard, err)
	}
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"a", "a/b/c", "a b/%2E/x:y", strings.Repeat("x", maxNameLen)} {
		if err := validName(name); err != nil {
			t.Errorf("validName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "/a", "a/", "a//b", "..", "a/../b", "a/./b", "a/.tmp-1", "a\x00b", "a\nb",
		"\xff", strings.Repeat("x", maxNameLen+1)} {
		if err := validName(name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("validName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}
