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
			if len(key) != KeySize || !bytes.HasPrefix(obj, []byte("TMC2")) || len(obj) != 4+12+len(plain)+16 {
				t.Fatalf("key %d bytes, object %d bytes %q...", len(key), len(obj), obj[:4])
			}
			got, err := Unseal(key, testName, obj)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Unseal: %v; %d bytes back, want %d", err, len(got), len(plain))
			}
		}
	}
}

// The key is HMAC-SHA256(secret, context 0 name), the nonce the first 12
// bytes of HMAC-SHA256(key, context 0 plaintext), the object "TMC2" ||
// nonce || AES-256-GCM with the name as AAD, computed here from the
// standard library alone.
func TestSealMatchesTheDocumentedScheme(t *testing.T) {
	secret, plain := []byte("s3cret"), []byte("the value")
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tidemark claim-check key v2\x00" + testName))
	wantKey := m.Sum(nil)
	n := hmac.New(sha256.New, wantKey)
	n.Write([]byte("tidemark claim-check nonce v2\x00"))
	n.Write(plain)
	nonce := n.Sum(nil)[:12]
	block, _ := aes.NewCipher(wantKey)
	gcm, _ := cipher.NewGCM(block)
	wantObj := gcm.Seal(append([]byte("TMC2"), nonce...), nonce, plain, []byte(testName))

	obj, key := Seal(secret, testName, plain)
	if !bytes.Equal(key, wantKey) || !bytes.Equal(obj, wantObj) {
		t.Fatalf("Seal differs from the documented scheme:\nkey %x\nwant %x", key, wantKey)
	}
	if !bytes.Equal(Key(secret, testName), key) {
		t.Fatal("Key differs from Seal's key")
	}
	// Another plaintext under the same name: same key, another nonce.
	obj2, key2 := Seal(secret, testName, []byte("another value"))
	if !bytes.Equal(key2, key) || bytes.Equal(obj2[4:16], obj[4:16]) {
		t.Fatal("two plaintexts under one name share a nonce")
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
	o5, k5 := Seal([]byte("a"), testName, []byte("other value"))
	if !bytes.Equal(k1, k5) || bytes.Equal(o1[4:16], o5[4:16]) {
		t.Fatal("another plaintext under the same name: want the same key and another nonce")
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
	badMagic[3] = '1'
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
		{"shorter than magic, nonce and tag", key, testName, obj[:31], ErrCorrupt},
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
