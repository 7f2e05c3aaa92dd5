// Command hang is a broken stage-1 init for the VM test: it arms the watchdog the way the
// real init does and then hangs, as firmware that deadlocks early would. Only the
// watchdog can get the box out of it.
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	os.MkdirAll("/dev", 0o755)
	unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	for _, m := range []string{"i6300esb"} {
		if f, err := os.Open("/lib/modules/" + m + ".ko"); err == nil {
			unix.FinitModule(int(f.Fd()), "", 0)
			f.Close()
		}
	}
	if f, err := os.OpenFile("/dev/watchdog", os.O_WRONLY, 0); err == nil {
		unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, 10)
		f.Write([]byte{'k'})
		fmt.Println("hang: watchdog armed, hanging")
	} else {
		fmt.Println("hang: no watchdog:", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}
