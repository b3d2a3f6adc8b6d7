package largerecord

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

const testName = "orders/s1/0-1-9/0-00112233445566778899aabbccddeeff"

func TestSealRoundTrip(t *testing.T) {
	for _, plain := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("row "), 100_000)} {
		for _, secret := range [][]byte{nil, []byte("daemon secret")} {
			obj, key := Seal(secret, testName, plain)
			if len(key) != KeySize || !bytes.HasPrefix(obj, []byte("TMC1")) || len(obj) != 4+len(plain)+16 {
				t.Fatalf("key %d bytes, object %d bytes %q...", len(key), len(obj), obj[:4])
			}
			got, err := Unseal(key, testName, obj)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Unseal: %v; %d bytes back, want %d", err, len(got), len(plain))
			}
		}
	}
}

// The key is HMAC-SHA256(secret, context 0 name 0 SHA-256(plaintext)) and
// the object AES-256-GCM with a zero nonce and the name as AAD, computed
// here from the standard library alone.
func TestSealMatchesTheDocumentedScheme(t *testing.T) {
	secret, plain := []byte("s3cret"), []byte("the value")
	sum := sha256.Sum256(plain)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tidemark claim-check v1\x00" + testName + "\x00"))
	m.Write(sum[:])
	wantKey := m.Sum(nil)
	block, _ := aes.NewCipher(wantKey)
	gcm, _ := cipher.NewGCM(block)
	wantObj := gcm.Seal([]byte("TMC1"), make([]byte, 12), plain, []byte(testName))

	obj, key := Seal(secret, testName, plain)
	if !bytes.Equal(key, wantKey) || !bytes.Equal(obj, wantObj) {
		t.Fatalf("Seal differs from the documented scheme:\nkey %x\nwant %x", key, wantKey)
	}
}

func TestSealDeterministic(t *testing.T) {
	plain := []byte("same value")
	o1, k1 := Seal([]byte("a"), testName, plain)
	o2, k2 := Seal([]byte("a"), testName, plain)
	if !bytes.Equal(o1, o2) || !bytes.Equal(k1, k2) {
		t.Fatal("same inputs, different output: a retried Put would conflict")
	}
	o3, k3 := Seal([]byte("b"), testName, plain)
	if bytes.Equal(k1, k3) || bytes.Equal(o1, o3) {
		t.Fatal("another secret gives the same key")
	}
	_, k4 := Seal([]byte("a"), testName+"x", plain)
	if bytes.Equal(k1, k4) {
		t.Fatal("another name gives the same key")
	}
	_, k5 := Seal([]byte("a"), testName, []byte("other value"))
	if bytes.Equal(k1, k5) {
		t.Fatal("another plaintext gives the same key: the fixed nonce would be reused")
	}
}

func TestUnsealRefuses(t *testing.T) {
	plain := bytes.Repeat([]byte("secret row "), 50)
	obj, key := Seal([]byte("k"), testName, plain)
	otherKey := bytes.Clone(key)
	otherKey[0] ^= 1
	flipped := bytes.Clone(obj)
	flipped[len(flipped)/2] ^= 0x80
	badMagic := bytes.Clone(obj)
	badMagic[3] = '2'
	for _, c := range []struct {
		what string
		key  []byte
		name string
		obj  []byte
		want error
	}{
		{"wrong key", otherKey, testName, obj, ErrWrongKey},
		{"short key", key[:16], testName, obj, ErrWrongKey},
		{"no key", nil, testName, obj, ErrWrongKey},
		{"other name (AAD)", key, testName + "2", obj, ErrWrongKey},
		{"altered byte", key, testName, flipped, ErrWrongKey},
		{"truncated tag", key, testName, obj[:len(obj)-1], ErrWrongKey},
		{"bad magic", key, testName, badMagic, ErrCorrupt},
		{"shorter than magic and tag", key, testName, obj[:19], ErrCorrupt},
		{"empty", key, testName, nil, ErrCorrupt},
	} {
		got, err := Unseal(c.key, c.name, c.obj)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: Unseal = %d bytes, %v; want %v", c.what, len(got), err, c.want)
			continue
		}
		if !bytes.Contains([]byte(err.Error()), []byte(c.name)) {
			t.Errorf("%s: error %q does not name the object", c.what, err)
		}
	}
}

// The object is the plaintext's ciphertext: no run of it survives.
func TestSealedObjectHidesPlaintext(t *testing.T) {
	plain := bytes.Repeat([]byte("AAAAAAAAAAAAAAAA"), 1000)
	obj, _ := Seal(nil, testName, plain)
	if bytes.Contains(obj, plain[:64]) {
		t.Fatal("object contains a 64-byte window of the plaintext")
	}
}
