package codepage

import "errors"

// ErrUnknownPage is returned by Lookup and ByESCPOS for a page this package does not know.
var ErrUnknownPage = errors.New("unknown code page")
