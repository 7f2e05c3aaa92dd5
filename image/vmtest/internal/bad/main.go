// Command bad is a broken tillbox for the VM test: it fails at once, as firmware whose
// start fails would (the health check never sees the till ready).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bad firmware: failing on purpose")
	os.Exit(1)
}
