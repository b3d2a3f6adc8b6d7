package integration

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/largerecord"
)

// The GC race a replay could lose: GC lists an old unreferenced object, a
// replay (its record on its way to Kafka) finds the object stored and
// reuses it, then GC deletes it. A replayed Put refreshes the object's
// written time, so a sweep after it keeps the object, on the GCS emulator
// as on a directory. (The refusal of a delete of the state listed before
// the replay rests on GCS's metageneration precondition, which
// fake-gcs-server does not check: on a directory it is
// largerecord.TestDirStoreReplayRefreshesForGC.)
func TestLargeRecordStoreReplayRefresh(t *testing.T) {
	stackEnv(t)
	_, bucket := newBucket(t)
	ctx := context.Background()
	s, err := largerecord.Open(ctx, "gs://"+bucket+"/tm")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name := "topic/shard/0-1-7/0-" + "0123456789abcdef0123456789abcdef"
	data := bytes.Repeat([]byte("sealed "), 1000)
	if err := s.Put(ctx, name, data); err != nil {
		t.Fatal(err)
	}
	first := listOne(t, s)
	time.Sleep(1100 * time.Millisecond)            // the emulator keeps CustomTime in whole seconds
	if err := s.Put(ctx, name, data); err != nil { // the replay
		t.Fatalf("idempotent Put: %v", err)
	}
	again := listOne(t, s)
	if !again.Written.After(first.Written) {
		t.Fatalf("the replay did not refresh the object: written %v, then %v", first.Written, again.Written)
	}
	// A sweep whose cutoff falls between the first write and the replay:
	// the object counts as written by the replay, young.
	cutoff := first.Written.Add(time.Millisecond)
	st, err := largerecord.Sweep(ctx, s, "topic/", largerecord.NewRefSet(10, 1e-6), cutoff, false, nil)
	if err != nil || st.Young != 1 || st.Deleted != 0 {
		t.Fatalf("sweep after the replay: %+v %v", st, err)
	}
	if err := s.Put(ctx, name, append(data, 'x')); !errors.Is(err, largerecord.ErrConflict) {
		t.Errorf("a different value under the same name: %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, again); err != nil {
		t.Fatalf("delete of the current state: %v", err)
	}
	if _, err := s.Get(ctx, name); !errors.Is(err, largerecord.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
}

func listOne(t *testing.T, s largerecord.Store) largerecord.ObjectInfo {
	t.Helper()
	var out []largerecord.ObjectInfo
	if err := s.List(context.Background(), "", func(o largerecord.ObjectInfo) error { out = append(out, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%d objects listed, want 1", len(out))
	}
	return out[0]
}
