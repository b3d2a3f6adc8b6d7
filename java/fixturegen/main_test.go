package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The committed fixtures are what the Go serde writes today: otherwise the
// Java tests would check an old format. Regenerate with go run ./java/fixturegen.
func TestFixturesUpToDate(t *testing.T) {
	fresh := t.TempDir()
	if err := Generate(fresh); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "src", "test", "resources", "fixtures")
	a, b := files(t, fresh), files(t, committed)
	for name, want := range a {
		got, ok := b[name]
		switch {
		case !ok:
			t.Errorf("%s is missing from %s", name, committed)
		case !bytes.Equal(got, want):
			t.Errorf("%s differs from what the serde writes now", name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("%s in %s is no longer generated", name, committed)
		}
	}
	if t.Failed() {
		t.Log("regenerate: go run ./java/fixturegen (from the repository's root)")
	}
}

// The generator is deterministic: two runs write the same bytes.
func TestGenerateDeterministic(t *testing.T) {
	x, y := t.TempDir(), t.TempDir()
	if err := Generate(x); err != nil {
		t.Fatal(err)
	}
	if err := Generate(y); err != nil {
		t.Fatal(err)
	}
	a, b := files(t, x), files(t, y)
	if len(a) != len(b) || len(a) < 10 {
		t.Fatalf("%d and %d files", len(a), len(b))
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
