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
	sealMagic = "TMC1"
	// keyContext separates claim-check keys from any other use of the
	// secret (the name's hash uses its own context).
	keyContext = "tidemark claim-check v1"
	// KeySize is the length of the keys Seal returns (AES-256).
	KeySize = 32
)

// zeroNonce is GCM's nonce for every object. A fixed nonce is safe ONLY
// because each key encrypts exactly one plaintext: the key is derived from
// the plaintext's hash (and the name), so a second, different plaintext
// always gets a different key, and sealing the same plaintext again yields
// the same bytes, which reveals nothing new. GCM's nonce-reuse failures
// (keystream reuse, forgeable tags) need two different messages under one
// key and nonce, which this derivation never produces. Do not reuse this
// nonce with a key from anywhere else.
var zeroNonce [12]byte

// Seal encrypts plaintext for the object called name (the Store name the
// Kafka record carries). It is deterministic: the same secret, name and
// plaintext give the same object and key, so a retried Put finds identical
// bytes. object is "TMC1" || AES-256-GCM(plaintext) || tag with the name as
// additional data (copied under another name it does not open); key travels
// only in the Kafka record, never with the object.
//
// The key is HMAC-SHA256(secret, "tidemark claim-check v1" 0x00 name 0x00
// SHA-256(plaintext)): keyed convergent encryption. Without the secret,
// someone holding the bucket cannot confirm a guessed plaintext by
// deriving its key and trying it. An empty secret still works, as plain
// convergent encryption, which allows exactly that confirmation.
func Seal(secret []byte, name string, plaintext []byte) (object, key []byte) {
	key = deriveKey(secret, name, plaintext)
	object = make([]byte, len(sealMagic), len(sealMagic)+len(plaintext)+16)
	copy(object, sealMagic)
	return newGCM(key).Seal(object, zeroNonce[:], plaintext, []byte(name)), key
}

// Unseal returns the plaintext of object, which must be called name and
// sealed with key. It allocates the result; object is left unchanged.
// Errors wrap ErrCorrupt (too short, not our magic) or ErrWrongKey (a key
// of the wrong size, or authentication failed) and name the object.
func Unseal(key []byte, name string, object []byte) ([]byte, error) {
	if len(object) < len(sealMagic)+16 {
		return nil, fmt.Errorf("unseal %q: %w: %d bytes, shorter than magic and tag", name, ErrCorrupt, len(object))
	}
	if string(object[:len(sealMagic)]) != sealMagic {
		return nil, fmt.Errorf("unseal %q: %w: magic %q, want %q", name, ErrCorrupt, object[:len(sealMagic)], sealMagic)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("unseal %q: %w: key is %d bytes, want %d", name, ErrWrongKey, len(key), KeySize)
	}
	plain, err := newGCM(key).Open(nil, zeroNonce[:], object[len(sealMagic):], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("unseal %q: %w (or the object was renamed or altered)", name, ErrWrongKey)
	}
	return plain, nil
}

func deriveKey(secret []byte, name string, plaintext []byte) []byte {
	sum := sha256.Sum256(plaintext)
	m := hmac.New(sha256.New, secret)
	// The name cannot be confused with its neighbours: the context is
	// fixed, and the hash after it has a fixed length.
	b := make([]byte, 0, len(keyContext)+1+len(name)+1+len(sum))
	b = append(b, keyContext...)
	b = append(b, 0)
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, sum[:]...)
	m.Write(b)
	return m.Sum(nil)
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
