package largerecord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestOpenRejectsOtherURIs(t *testing.T) {
	for _, uri := range []string{"s3://b", "gs://", "file://relative/dir", "/tmp/x", "gs://b/../x"} {
		if _, err := Open(context.Background(), uri); !errors.Is(err, ErrInvalidURI) {
			t.Errorf("Open(%q) = %v, want ErrInvalidURI", uri, err)
		}
	}
}

func TestDirStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	name := "t/s/0-1-7/1-" + fmt.Sprintf("%032x", 7)
	if err := s.Put(ctx, name, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, name, []byte("one")); err != nil {
		t.Errorf("idempotent Put: %v", err)
	}
	if err := s.Put(ctx, name, []byte("two")); !errors.Is(err, ErrConflict) {
		t.Errorf("conflicting Put: %v", err)
	}
	if b, err := s.Get(ctx, name); err != nil || string(b) != "one" {
		t.Errorf("Get = %q, %v", b, err)
	}
	if s.URI(name) != "file://"+dir+"/"+name {
		t.Errorf("URI %s", s.URI(name))
	}
	if _, err := s.Get(ctx, "t/s/x/1-0"); !errors.Is(err, ErrNotFound) || !bytes.Contains([]byte(err.Error()), []byte("t/s/x/1-0")) {
		t.Errorf("missing Get: %v", err)
	}
	for _, bad := range []string{"../x", "/abs", "a//b", "a/.hidden", ""} {
		if err := s.Put(ctx, bad, nil); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	s.Put(ctx, "u/s/e/1-a", []byte("x"))
	var listed []string
	if err := s.List(ctx, "t/", func(o ObjectInfo) error { listed = append(listed, o.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(listed) != "["+name+"]" {
		t.Errorf("List(t/) = %v", listed)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "t/s/0-1-7/.*")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := s.Delete(ctx, ObjectInfo{Name: name}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, ObjectInfo{Name: name}); err != nil {
		t.Errorf("deleting a missing object: %v", err)
	}
	missing, _ := Open(ctx, "file://"+dir+"/nope")
	if err := missing.Put(ctx, name, []byte("x")); !errors.Is(err, ErrNoBucket) {
		t.Errorf("Put into a missing directory: %v", err)
	}
}

func TestRefSetHasNoFalseNegatives(t *testing.T) {
	r := NewRefSet(100_000, 1e-4)
	for i := range 100_000 {
		r.Add(fmt.Sprintf("topic/shard/0-1-%d/0-%032x", i, i))
	}
	for i := range 100_000 {
		if !r.Has(fmt.Sprintf("topic/shard/0-1-%d/0-%032x", i, i)) {
			t.Fatalf("name %d added but not found", i)
		}
	}
	fp := 0
	for i := range 100_000 {
		if r.Has(fmt.Sprintf("other/%d", i)) {
			fp++
		}
	}
	if fp > 100 {
		t.Errorf("%d false positives in 100000, want about 10", fp)
	}
	t.Logf("%d names in %d bytes, %d false positives", r.Len(), r.Bytes(), fp)
}

// Sweep deletes only old unreferenced objects; a dry run deletes nothing.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := Open(ctx, "file://"+dir)
	for _, n := range []string{"t/s/e/1-a", "t/s/e/2-b", "t/s/e/3-c"} {
		s.Put(ctx, n, []byte(n))
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "t/s/e/1-a"), old, old)
	os.Chtimes(filepath.Join(dir, "t/s/e/2-b"), old, old)
	refs := NewRefSet(10, 1e-6)
	refs.Add("t/s/e/2-b")
	cutoff := time.Now().Add(-time.Minute)
	st, err := Sweep(ctx, s, "t/", refs, cutoff, true, nil)
	if err != nil || st.Deleted != 1 || st.Referenced != 1 || st.Young != 1 {
		t.Fatalf("dry run: %+v %v", st, err)
	}
	if _, err := s.Get(ctx, "t/s/e/1-a"); err != nil {
		t.Fatalf("a dry run deleted: %v", err)
	}
	actions := map[string]SweepAction{}
	if _, err := Sweep(ctx, s, "t/", refs, cutoff, false, func(o ObjectInfo, a SweepAction) { actions[o.Name] = a }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(actions) != "map[t/s/e/1-a:deleted t/s/e/2-b:kept t/s/e/3-c:young]" {
		t.Errorf("actions %v", actions)
	}
	if _, err := s.Get(ctx, "t/s/e/1-a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the orphan survived: %v", err)
	}
}

// A replayed Put of an object GC has listed refreshes it: the delete of the
// listed state is refused (ErrChanged) and the next sweep counts it young.
// (integration/largerecord_store_test.go runs the same on the GCS emulator.)
func TestDirStoreReplayRefreshesForGC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := Open(ctx, "file://"+dir)
	name := "t/s/e/1-a"
	s.Put(ctx, name, []byte("v"))
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(dir, name), old, old)
	var listed ObjectInfo
	s.List(ctx, "t/", func(o ObjectInfo) error { listed = o; return nil })
	if err := s.Put(ctx, name, []byte("v")); err != nil { // the replay
		t.Fatal(err)
	}
	if err := s.Delete(ctx, listed); !errors.Is(err, ErrChanged) {
		t.Fatalf("delete of the state listed before the replay: %v, want ErrChanged", err)
	}
	st, err := Sweep(ctx, s, "t/", NewRefSet(10, 1e-6), time.Now().Add(-24*time.Hour), false, nil)
	if err != nil || st.Young != 1 || st.Deleted != 0 {
		t.Fatalf("sweep after the replay: %+v %v", st, err)
	}
	if _, err := s.Get(ctx, name); err != nil {
		t.Fatalf("the replayed object is gone: %v", err)
	}
}

// A pointer is data from Kafka: whatever name it carries, the directory
// store reads only regular files of at most MaxObjectBytes, and never
// follows a symlink out of its root or blocks on a FIFO.
func TestDirStoreGetRefusesWhatNoPutWrote(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "t/shard1/1-1-1/"
	if err := os.MkdirAll(filepath.Join(dir, prefix), 0o755); err != nil {
		t.Fatal(err)
	}
	huge, err := os.Create(filepath.Join(dir, prefix+"0-huge"))
	if err != nil {
		t.Fatal(err)
	}
	if err := huge.Truncate(MaxObjectBytes + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	huge.Close()
	if _, err := s.Get(ctx, prefix+"0-huge"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Get of a %d-byte file: %v, want ErrTooLarge", int64(MaxObjectBytes+1), err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, prefix+"0-link")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, prefix+"0-link"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of a symlink: %v, want ErrCorrupt", err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, prefix+"0-fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, prefix+"0-fifo"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of a FIFO: %v, want ErrCorrupt", err)
	}
}
