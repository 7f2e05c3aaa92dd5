package wire

import "errors"

// Sentinel errors. Every decoding error wraps exactly one of them and adds the reason.
var (
	// ErrTooLarge: the payload is over its size limit; it was not parsed.
	ErrTooLarge = errors.New("payload too large")
	// ErrNotJSON: the payload is not a single JSON object of the expected shape.
	ErrNotJSON = errors.New("payload is not valid JSON")
	// ErrVersion: the payload's "v" is missing or is not a version this build speaks.
	ErrVersion = errors.New("unknown payload version")
	// ErrMissing: a required field is missing or empty.
	ErrMissing = errors.New("required field missing")
	// ErrIdentity: the payload names another store or till than the topic it came on.
	ErrIdentity = errors.New("payload identity differs from its topic")
	// ErrInvalid: a field has a value outside its domain (a negative price, a bad id, a
	// hash that does not match the content).
	ErrInvalid = errors.New("invalid field value")
	// ErrSignature: a signature that is required is missing, malformed or made with
	// another key, or a signed command has expired.
	ErrSignature = errors.New("signature missing or invalid")
	// ErrTopic: the topic is not one of this contract's topics under the prefix.
	ErrTopic = errors.New("not a tillbox topic")
)
