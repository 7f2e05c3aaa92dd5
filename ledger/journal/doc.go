// Package journal defines the ledger's entries and their hash chain: pure data and pure
// functions, with no file, clock or network of their own. The ledger stores these entries,
// the sale engine produces them, and HQ receives and checks them; all three share this one
// definition, so the hash the till computes is the hash HQ recomputes.
//
// An entry's canonical bytes are its compact encoding/json form with the hash field empty
// (and so omitted); its hash is the hex SHA-256 of those bytes, prev included. Because the
// hash field is last, the stored bytes are the canonical bytes with the hash appended and,
// on a till with a device key, the signature of the hash (SigMessage, field sig) after it.
// The signature is outside the canonical bytes: it signs them, through the hash.
package journal
