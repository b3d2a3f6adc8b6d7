package largerecord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// gcsStore is a Store on a Google Cloud Storage bucket, names under an
// optional prefix. Writes carry a CRC32C that GCS verifies, and a
// DoesNotExist precondition: an existing object is compared, never
// overwritten. Retries are the client's (every call here is idempotent:
// the precondition makes Put so).
type gcsStore struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string // the bucket's
	prefix string // "" or "a/b"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// callTimeout bounds one call moving n bytes: the client retries an
// unreachable endpoint for as long as its context lives, and a store that
// stays down must surface as an error the caller reports (and retries).
// 30 s plus 1 MB/s, the slowest link worth waiting on.
func callTimeout(n int) time.Duration {
	return 30*time.Second + time.Duration(n/(1<<20))*time.Second
}

func openGCS(ctx context.Context, bucket, prefix string) (*gcsStore, error) {
	client, err := storage.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("gs://%s: GCS client: %w", bucket, err)
	}
	s := &gcsStore{client: client, name: bucket, prefix: prefix}
	// RetryAlways: Put is idempotent under its precondition, Get and
	// Delete are by nature. A few attempts only: a store that stays down
	// must surface as an error, which the daemon reports while it retries.
	s.bucket = client.Bucket(bucket).Retryer(storage.WithPolicy(storage.RetryAlways), storage.WithMaxAttempts(3))
	return s, nil
}

func (s *gcsStore) full(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

func (s *gcsStore) URI(name string) string { return "gs://" + s.name + "/" + s.full(name) }

func (s *gcsStore) Put(ctx context.Context, name string, data []byte) error {
	if err := validName(name); err != nil {
		return err
	}
	sum := crc32.Checksum(data, castagnoli)
	ctx, cancel := context.WithTimeout(ctx, callTimeout(len(data)))
	defer cancel()
	obj := s.bucket.Object(s.full(name))
	w := obj.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.CRC32C, w.SendCRC32C = sum, true
	w.ContentType = "application/octet-stream"
	w.ChunkSize = 16 << 20
	w.ChunkRetryDeadline = 30 * time.Second
	_, err := io.Copy(w, bytes.NewReader(data))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
		return nil
	case isStatus(err, http.StatusPreconditionFailed): // it exists: the same bytes?
		attrs, aerr := obj.Attrs(ctx)
		if aerr != nil {
			return s.wrap("put", name, aerr)
		}
		if attrs.Size == int64(len(data)) && attrs.CRC32C == sum {
			// The same object: stamp it written now (CustomTime, which
			// GCS lets only move forward), so a GC that listed it before
			// this replay fails its delete (the metageneration moved) and
			// the next GC counts its grace from now.
			if _, err := obj.Update(ctx, storage.ObjectAttrsToUpdate{CustomTime: time.Now().UTC()}); err != nil {
				return s.wrap("put (refresh)", name, err)
			}
			return nil
		}
		return fmt.Errorf("put %s: %w (%d bytes stored, %d written)", s.URI(name), ErrConflict, attrs.Size, len(data))
	}
	return s.wrap("put", name, err)
}

func (s *gcsStore) Get(ctx context.Context, name string) ([]byte, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout(64<<20))
	defer cancel()
	r, err := s.bucket.Object(s.full(name)).NewReader(ctx)
	if err != nil {
		return nil, s.wrap("get", name, err)
	}
	defer r.Close()
	if r.Attrs.Size > MaxObjectBytes {
		return nil, s.wrap("get", name, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, r.Attrs.Size, int64(MaxObjectBytes)))
	}
	// Exactly the object's size, read to EOF (so the client checks its
	// CRC32C): no buffer growth doubling a 40 MB object in memory.
	b := make([]byte, max(r.Attrs.Size, 0))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, s.wrap("get", name, err)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || (err != nil && err != io.EOF) {
		return nil, s.wrap("get", name, fmt.Errorf("object longer than its %d bytes, or unreadable: %v", len(b), err))
	}
	return b, nil
}

func (s *gcsStore) Delete(ctx context.Context, o ObjectInfo) error {
	if err := validName(o.Name); err != nil {
		return err
	}
	obj := s.bucket.Object(s.full(o.Name))
	if o.generation != 0 { // only the listed state: not one a Put refreshed since
		obj = obj.If(storage.Conditions{GenerationMatch: o.generation, MetagenerationMatch: o.metageneration})
	}
	err := obj.Delete(ctx)
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		return nil
	case isStatus(err, http.StatusPreconditionFailed):
		return fmt.Errorf("delete %s: %w", s.URI(o.Name), ErrChanged)
	}
	return s.wrap("delete", o.Name, err)
}

func (s *gcsStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	q := &storage.Query{Prefix: s.full(prefix)}
	if prefix == "" && s.prefix != "" {
		q.Prefix = s.prefix + "/"
	}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Created", "CustomTime", "Generation", "Metageneration"}); err != nil {
		return err
	}
	it := s.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return nil
		}
		if err != nil {
			return s.wrap("list", prefix, err)
		}
		name := a.Name
		if s.prefix != "" {
			name = strings.TrimPrefix(name, s.prefix+"/")
		}
		written := a.Created
		if a.CustomTime.After(written) { // refreshed by an idempotent Put
			written = a.CustomTime
		}
		if err := fn(ObjectInfo{Name: name, Size: a.Size, Written: written, generation: a.Generation, metageneration: a.Metageneration}); err != nil {
			return err
		}
	}
}

func (s *gcsStore) Close() error { return s.client.Close() }

// wrap names the object and maps GCS's answers to the package's sentinels.
func (s *gcsStore) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		return fmt.Errorf("%s %s: %w", op, s.URI(name), ErrNotFound)
	case errors.Is(err, storage.ErrBucketNotExist), isStatus(err, http.StatusNotFound) && op != "get":
		return fmt.Errorf("%s %s: %w: create gs://%s or fix large_records.store", op, s.URI(name), ErrNoBucket, s.name)
	}
	return fmt.Errorf("%s %s: %w", op, s.URI(name), err)
}

func isStatus(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}
