package largerecord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dirStore is a Store in a local directory, for development: names are
// paths below it ('/' makes subdirectories). Writes are atomic (a temporary
// file, fsync, rename) and, like GCS's, never overwrite: an existing file
// is compared. Temporary files start with '.', which no valid name does.
type dirStore struct{ root string }

func openDir(dir string) (*dirStore, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%w %q: the directory must be absolute", ErrInvalidURI, "file://"+dir)
	}
	return &dirStore{root: filepath.Clean(dir)}, nil
}

func (s *dirStore) path(name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(name)), nil
}

func (s *dirStore) URI(name string) string { return "file://" + s.root + "/" + name }

func (s *dirStore) Put(_ context.Context, name string, data []byte) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(p); err == nil {
		if bytes.Equal(old, data) { // written again now, for GC (Store.Put)
			now := time.Now()
			if err := os.Chtimes(p, now, now); err != nil {
				return fmt.Errorf("put %s: refresh: %w", s.URI(name), err)
			}
			return nil
		}
		return fmt.Errorf("put %s: %w (%d bytes stored, %d written)", s.URI(name), ErrConflict, len(old), len(data))
	}
	if err := s.checkRoot(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("put %s: %w", s.URI(name), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", s.URI(name), err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: it fails if another writer got there first,
		// as GCS's precondition does, instead of replacing its file.
		if err = os.Link(tmp.Name(), p); errors.Is(err, fs.ErrExist) {
			return s.Put(context.Background(), name, data) // compare with theirs
		}
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", s.URI(name), err)
	}
	return nil
}

// checkRoot makes a missing root an error rather than creating it: a
// typo in the URI would otherwise write objects nobody will find.
func (s *dirStore) checkRoot() error {
	if st, err := os.Stat(s.root); err != nil || !st.IsDir() {
		return fmt.Errorf("store %s: %w: the directory does not exist; create it or fix large_records.store", "file://"+s.root, ErrNoBucket)
	}
	return nil
}

func (s *dirStore) Get(_ context.Context, name string) ([]byte, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	// Lstat first: a pointer naming a FIFO would block the open, a symlink
	// (to /dev/zero, say) would read another file. Objects are regular files.
	if st, err := os.Lstat(p); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("get %s: %w: not a regular file (%s)", s.URI(name), ErrCorrupt, st.Mode().Type())
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", s.URI(name), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.URI(name), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.URI(name), err)
	}
	if !st.Mode().IsRegular() || st.Size() > MaxObjectBytes {
		return nil, fmt.Errorf("get %s: %w: %d bytes, not a regular file of at most %d", s.URI(name), ErrTooLarge, st.Size(), int64(MaxObjectBytes))
	}
	// Exactly the file's size, as the GCS store reads (no buffer doubling);
	// objects are written once (link of a synced file), so a file that is
	// not that long, or longer, was not written by a store.
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("get %s: %w", s.URI(name), err)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("get %s: %w: the file grew while read", s.URI(name), ErrCorrupt)
	}
	return b, nil
}

// Delete checks the file's time against the listed one first. (Not atomic
// as GCS's precondition is: a Put in the microseconds between the check
// and the removal is lost to GC. The directory store is for development.)
func (s *dirStore) Delete(_ context.Context, o ObjectInfo) error {
	p, err := s.path(o.Name)
	if err != nil {
		return err
	}
	if !o.Written.IsZero() {
		if info, err := os.Stat(p); err == nil && !info.ModTime().Equal(o.Written) {
			return fmt.Errorf("delete %s: %w", s.URI(o.Name), ErrChanged)
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", s.URI(o.Name), err)
	}
	return nil
}

// List walks the directory (WalkDir's order: lexical per directory).
func (s *dirStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := s.checkRoot(); err != nil {
		return err
	}
	return filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(s.root, p)
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			if p != s.root && !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(ObjectInfo{Name: name, Size: info.Size(), Written: info.ModTime()})
	})
}

func (s *dirStore) Close() error { return nil }
