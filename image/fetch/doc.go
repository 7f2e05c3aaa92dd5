// Package fetch downloads a file the fleet points a till to (a firmware bundle) into a
// directory on the data partition, resuming an interrupted download with an HTTP range
// request.
//
// Guarantees:
//   - A download is named by its expected SHA-256, so a partial file is only ever resumed
//     for the same content; it is written to NAME.part and renamed to NAME only once its
//     size and SHA-256 match. A file under NAME is therefore always complete and correct.
//   - A download cut by a lost connection, a server that ends the body early, or a power
//     loss resumes from the bytes already on disk at the next call. A resumed download
//     whose digest does not match (a partial file damaged by the power loss, or content
//     that changed on the server) is discarded and fetched once more from the start; a
//     fresh download that does not match is refused with ErrDigest and removed.
//   - A download on which nothing arrives for Request.Idle ends with what arrived kept.
//   - A server that sends more than the expected size is cut off at that size and
//     refused with ErrSize: it cannot fill the disk.
//
// Fetch checks only the bytes. Whether they are a bundle this box may install (signature,
// board, version) is package update's check, which runs before the slot is written.
package fetch
