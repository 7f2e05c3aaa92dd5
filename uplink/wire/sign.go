package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

// Signatures. A till signs its journal entries with its device key (ledger.Options.Sign
// over journal.SigMessage); HQ signs catalogs and commands with its signing key. Every
// signature is ed25519 in unpadded base64url, over a message that starts with a label of
// its kind, so that a signature of one kind is never valid as another.
//
// A signed catalog or command is checked against the bytes this package encodes from the
// decoded value, not the bytes received: decoding is strict (no unknown fields), so the
// decoded value is all the payload says, and what is checked is exactly what is used.

// KeyPrefix starts the text form of a public key: "ed25519:" and the key in base64url.
const KeyPrefix = "ed25519:"

// FormatPublicKey gives pub's text form, as printed at provisioning and registered at HQ.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a key in the form FormatPublicKey writes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, KeyPrefix) {
		return nil, fmt.Errorf("wire: public key: %w: want %q followed by base64url", ErrInvalid, KeyPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, KeyPrefix))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("wire: public key: %w: want %d bytes of base64url", ErrInvalid, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// sigLen is the length of an ed25519 signature in unpadded base64url.
var sigLen = base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize)

func isSig(s string) bool {
	if len(s) != sigLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func verify(what string, pub ed25519.PublicKey, msg []byte, sig string) error {
	if sig == "" {
		return fmt.Errorf("wire: verify %s: %w: not signed", what, ErrSignature)
	}
	b, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(b) != ed25519.SignatureSize {
		return fmt.Errorf("wire: verify %s: %w: malformed signature", what, ErrSignature)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, msg, b) {
		return fmt.Errorf("wire: verify %s: %w: signature does not match the key", what, ErrSignature)
	}
	return nil
}

// VerifyEntry checks an entry's device signature against its till's registered key. The
// entry's hash must already have been checked (DecodeTx does), because the signature
// covers the content only through the hash.
func VerifyEntry(pub ed25519.PublicKey, e *journal.Entry) error {
	return verify(fmt.Sprintf("tx seq %d", e.Seq), pub, journal.SigMessage(e.Hash), e.Sig)
}

func catalogMessage(c *Catalog) ([]byte, error) {
	u := *c
	u.V, u.Sig = Version, ""
	b, err := json.Marshal(&u)
	if err != nil {
		return nil, fmt.Errorf("wire: sign catalog: %w", err)
	}
	return append([]byte("tillbox-catalog-v1\n"), b...), nil
}

// SignCatalog sets c.Sig to HQ's signature of the catalog.
func SignCatalog(key ed25519.PrivateKey, c *Catalog) error {
	msg, err := catalogMessage(c)
	if err != nil {
		return err
	}
	c.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// VerifyCatalog checks c.Sig against HQ's key. The store is inside what is signed, so a
// catalog signed for one store does not verify for another (DecodeCatalog checks the
// store against the topic).
func VerifyCatalog(pub ed25519.PublicKey, c *Catalog) error {
	msg, err := catalogMessage(c)
	if err != nil {
		return err
	}
	return verify(fmt.Sprintf("catalog version %d", c.Version), pub, msg, c.Sig)
}

func cmdMessage(c *Cmd) ([]byte, error) {
	u := *c
	u.V, u.Sig = Version, ""
	b, err := json.Marshal(&u)
	if err != nil {
		return nil, fmt.Errorf("wire: sign cmd: %w", err)
	}
	return append([]byte("tillbox-cmd-v1\n"), b...), nil
}

// SignCmd addresses c to one till, gives it an expiry and signs it with HQ's key. A signed
// command names its till, so it cannot be replayed to another one; it expires, so it
// cannot be replayed to the same till after its id was forgotten.
func SignCmd(key ed25519.PrivateKey, c *Cmd, store, till string, expires time.Time) error {
	exp := expires.UTC().Truncate(time.Second)
	c.Store, c.Till, c.Expires = store, till, &exp
	msg, err := cmdMessage(c)
	if err != nil {
		return err
	}
	c.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// VerifyCmd checks that c is signed by HQ's key, addressed to store/till and not expired
// at now. The till's clock may be wrong: HQ gives commands a generous expiry.
func VerifyCmd(pub ed25519.PublicKey, c *Cmd, store, till string, now time.Time) error {
	msg, err := cmdMessage(c)
	if err != nil {
		return err
	}
	if err := verify("cmd "+c.ID, pub, msg, c.Sig); err != nil {
		return err
	}
	switch {
	case c.Store != store || c.Till != till:
		return fmt.Errorf("wire: verify cmd %s: %w: addressed to %s/%s, this is %s/%s", c.ID, ErrIdentity, clip(c.Store), clip(c.Till), store, till)
	case c.Expires == nil:
		return fmt.Errorf("wire: verify cmd %s: %w: no expiry", c.ID, ErrSignature)
	case now.After(*c.Expires):
		return fmt.Errorf("wire: verify cmd %s: %w: expired at %s", c.ID, ErrSignature, c.Expires.Format(time.RFC3339))
	}
	return nil
}

func ackMessage(a Ack) ([]byte, error) {
	a.V, a.Sig = Version, ""
	b, err := json.Marshal(&a)
	if err != nil {
		return nil, fmt.Errorf("wire: sign ack: %w", err)
	}
	return append([]byte("tillbox-ack-v1\n"), b...), nil
}

// SignAck is the ack payload for store/till through seq, signed with HQ's key
// (AckPayload with a key). It names its till, so it is not valid for another one;
// replayed to the same till it can only repeat what HQ has already said, since a till
// never moves its watermark down.
func SignAck(key ed25519.PrivateKey, store, till string, through uint64) []byte {
	return AckPayload(key, store, till, through)
}

// signAck is the signature of a, which names its till.
func signAck(key ed25519.PrivateKey, a Ack) string {
	msg, _ := ackMessage(a) // see AckPayload
	return base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, msg))
}

// DecodeSignedAck decodes an ack payload and returns its through only when HQ's key
// signed it for store/till.
func DecodeSignedAck(p []byte, pub ed25519.PublicKey, store, till string) (uint64, error) {
	a, err := decodeAck(p)
	if err != nil {
		return 0, err
	}
	msg, err := ackMessage(a)
	if err != nil {
		return 0, err
	}
	if err := verify("ack", pub, msg, a.Sig); err != nil {
		return 0, err
	}
	if a.Store != store || a.Till != till {
		return 0, fmt.Errorf("wire: verify ack: %w: addressed to %s/%s, this is %s/%s", ErrIdentity, clip(a.Store), clip(a.Till), store, till)
	}
	return *a.Through, nil
}
