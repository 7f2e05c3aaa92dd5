package board

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// hostInit loads periph.io's host drivers once per process. Only a profile with a GPIO or
// I2C device calls it, so the sim and qemu-virt boards never probe for SoC registers.
var hostInit = sync.OnceValue(func() error {
	if _, err := host.Init(); err != nil {
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
