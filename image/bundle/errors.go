package bundle

import "errors"

// Errors callers tell apart (wrapped; test with errors.Is).
var (
	// ErrFormat: not a bundle, a truncated one, or a manifest that does not parse.
	ErrFormat = errors.New("not a valid bundle")
	// ErrSignature: no trusted key signed this manifest (or this file).
	ErrSignature = errors.New("signature does not verify with a trusted key")
	// ErrPayload: the payload's size or SHA-256 differs from the signed manifest's.
	ErrPayload = errors.New("payload does not match the signed manifest")
	// ErrVersion: a version string that is not dotted numbers.
	ErrVersion = errors.New("bad version")
	// ErrKey: a key file that does not parse.
	ErrKey = errors.New("bad key")
)
