package largerecord

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

const (
	// sealMagic starts every object; the version is in it, so a later
	// scheme can coexist with this one in a bucket.
	sealMagic = "TMC2"
	// keyContext and nonceContext separate the derivations from any other
	// use of the secret and of the key.
	keyContext   = "tidemark claim-check key v2"
	nonceContext = "tidemark claim-check nonce v2"
	// KeySize is the length of the keys Seal returns (AES-256).
	KeySize   = 32
	nonceSize = 12
)

// Seal encrypts plaintext for the object called name (the Store name the
// Kafka record carries). object is "TMC2" || nonce || AES-256-GCM(plaintext)
// || tag, with the name as additional data (copied under another name it
// does not open); key travels only in the Kafka record, never with the
// object.
//
// The key is HMAC-SHA256(secret, "tidemark claim-check key v2" 0x00 name):
// one per object name, so a replayed write of the same event (whose
// envelope differs in its processing time) derives the same key and can
// open the object the first attempt stored (serde reuses it). Without the
// secret a name does not give its key. The nonce is HMAC-SHA256(key,
// context || plaintext)'s first 12 bytes: the same plaintext seals to the
// same bytes (a retried Put finds them identical), and two different
// plaintexts under one name never share a nonce, so GCM's nonce-reuse
// failures cannot occur even if both were ever written.
func Seal(secret []byte, name string, plaintext []byte) (object, key []byte) {
	key = deriveKey(secret, name)
	nonce := deriveNonce(key, plaintext)
	object = make([]byte, 0, len(sealMagic)+nonceSize+len(plaintext)+16)
	object = append(object, sealMagic...)
	object = append(object, nonce...)
	return newGCM(key).Seal(object, nonce, plaintext, []byte(name)), key
}

// Key is the key Seal uses for name: what a writer needs to open the
// object an earlier attempt stored there.
func Key(secret []byte, name string) []byte { return deriveKey(secret, name) }

// Unseal returns the plaintext of object, which must be called name and
// sealed with key. It allocates the result; object is left unchanged.
// Errors wrap ErrCorrupt (too short, not our magic) or ErrWrongKey (a key
// of the wrong size, or authentication failed) and name the object.
func Unseal(key []byte, name string, object []byte) ([]byte, error) {
	if len(object) < len(sealMagic)+nonceSize+16 {
		return nil, fmt.Errorf("unseal %q: %w: %d bytes, shorter than magic, nonce and tag", name, ErrCorrupt, len(object))
	}
	if string(object[:len(sealMagic)]) != sealMagic {
		return nil, fmt.Errorf("unseal %q: %w: magic %q, want %q", name, ErrCorrupt, object[:len(sealMagic)], sealMagic)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("unseal %q: %w: key is %d bytes, want %d", name, ErrWrongKey, len(key), KeySize)
	}
	nonce := object[len(sealMagic) : len(sealMagic)+nonceSize]
	plain, err := newGCM(key).Open(nil, nonce, object[len(sealMagic)+nonceSize:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("unseal %q: %w (or the object was renamed or altered)", name, ErrWrongKey)
	}
	return plain, nil
}

func deriveKey(secret []byte, name string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(keyContext))
	m.Write([]byte{0})
	m.Write([]byte(name))
	return m.Sum(nil)
}

func deriveNonce(key, plaintext []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonceContext))
	m.Write([]byte{0})
	m.Write(plaintext)
	return m.Sum(nil)[:nonceSize]
}

// newGCM cannot fail for a KeySize key; callers check the size.
func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err == nil {
		var g cipher.AEAD
		if g, err = cipher.NewGCM(block); err == nil {
			return g
		}
	}
	panic(errors.Join(errors.New("largerecord: AES-256-GCM setup with a 32-byte key failed"), err))
}
