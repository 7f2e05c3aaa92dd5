// Package config reads the till's configuration: a JSON file on the data partition laid
// over the defaults embedded in the binary, then flags over both. A file that does not
// parse, names a field that does not exist or holds a value out of range is refused with
// the field and the reason; the till never runs on a half-read configuration.
package config
