package board

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	// The host drivers the boards' GPIO and I2C need, registered by their package
	// initialisers, and no others: periph.io/x/host/v3 would link every SoC's (Allwinner,
	// Pine64, AM335x...), whose initialisers cost the till's every start, on every board.
	// bcm283x and rpi: the Pi's GPIO registers and its header's pin names; gpioioctl: the
	// GPIO character device (any board); sysfs: I2C buses (/dev/i2c-N).
	_ "periph.io/x/host/v3/bcm283x"
	_ "periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/rpi"
	_ "periph.io/x/host/v3/sysfs"
)

// hostInit loads the registered host drivers once per process. Only a profile with a GPIO
// or I2C device calls it, so the sim and qemu-virt boards never probe for SoC registers.
var hostInit = sync.OnceValue(func() error {
	if _, err := driverreg.Init(); err != nil {
		return fmt.Errorf("periph host init: %w", err)
	}
	return nil
})

// gpioPin returns the GPIO line periph knows by name ("GPIO17", or a header pin alias).
func gpioPin(name string) (gpio.PinIO, error) {
	if err := hostInit(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("gpio %s: no such line on this board", name)
	}
	return p, nil
}

// openI2C opens the I2C bus periph knows by name ("1" for /dev/i2c-1).
func openI2C(name string) (port, error) {
	if err := hostInit(); err != nil {
		return nil, err
	}
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open i2c bus %s: %w", name, err)
	}
	return &watchedBus{failure: newFailure(), bus: b}, nil
}

// watchedBus is an I2C bus port: a transaction that fails (no acknowledge from an
// unplugged or unpowered backpack) marks it failed, as a failed read marks a tty.
type watchedBus struct {
	*failure
	bus    i2c.BusCloser
	closed sync.Once
	cerr   error
}

var _ i2c.Bus = (*watchedBus)(nil)

func (b *watchedBus) Tx(addr uint16, w, r []byte) error {
	err := b.bus.Tx(addr, w, r)
	if err != nil {
		b.fail(fmt.Errorf("i2c tx to %#x: %w", addr, err))
	}
	return err
}

func (b *watchedBus) SetSpeed(f physic.Frequency) error { return b.bus.SetSpeed(f) }
func (b *watchedBus) String() string                    { return b.bus.String() }

func (b *watchedBus) Close() error {
	b.closed.Do(func() {
		b.fail(errors.New("closed by the board"))
		b.cerr = b.bus.Close()
	})
	return b.cerr
}
