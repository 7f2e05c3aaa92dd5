package board

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestHostDriversLinked: the boards' binaries (arm64 and armv7) link the periph.io host
// drivers their GPIO and I2C need, and no other SoC's, whose package initialisers would run
// at every start of the till.
func TestHostDriversLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	want := []string{"bcm283x", "gpioioctl", "rpi", "sysfs"}
	for _, arch := range []string{"arm64", "arm"} {
		c := exec.Command("go", "list", "-deps", ".")
		c.Env = append(c.Environ(), "GOOS=linux", "GOARCH="+arch, "GOARM=7", "CGO_ENABLED=0")
		out, err := c.Output()
		if err != nil {
			t.Fatalf("go list (%s): %v", arch, err)
		}
		var drivers []string
		for _, p := range strings.Fields(string(out)) {
			if d, ok := strings.CutPrefix(p, "periph.io/x/host/v3/"); ok {
				drivers = append(drivers, d)
			}
		}
		for _, w := range want {
			if !slices.Contains(drivers, w) {
				t.Errorf("%s: periph.io/x/host/v3/%s not linked (have %v)", arch, w, drivers)
			}
		}
		for _, other := range []string{"allwinner", "pine64", "am335x", "chip", "odroidc1", "netlink", "beagle/bone"} {
			if slices.Contains(drivers, other) {
				t.Errorf("%s: periph.io/x/host/v3/%s linked: its initialiser runs at every start", arch, other)
			}
		}
	}
}
