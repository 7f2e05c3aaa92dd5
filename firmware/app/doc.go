// Package app is the till's run loop: it wires the board's devices, the ledger, the sale
// engine and the uplink, and keeps them in step.
//
// The order of a sale is fixed: the document is appended to the ledger in one fsync'd
// transaction (entry, stock moves, print job, the open-sale record's removal); only then is
// it printed, then the drawer opens, then the customer display shows the change. A crash at
// any point therefore leaves either no sale or a committed one, and a committed sale whose
// receipt may not have come out is printed again at start-up, marked as a reprint.
//
// Nothing the devices do blocks the loop: printing runs in its own goroutine from the
// ledger's print queue, and every device event arrives on a buffered channel.
package app
