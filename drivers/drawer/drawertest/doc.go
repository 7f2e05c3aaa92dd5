// Package drawertest is a fake cash drawer for tests and the sim board: a drawer with a
// spring, a latch released by a solenoid and a sense switch that can bounce.
//
// The solenoid is reached through a fake GPIO line (Drawer.KickPin, a gpio.PinIO) or the
// fake printer's kick-out connector (Drawer.Printer, which satisfies drawer.Kicker and
// drawer.Sensor); the switch through a fake GPIO line (Drawer.SensePin) or the printer's
// status. A kick opens the drawer after Opts.SpringDelay unless it is jammed; the test is
// the cashier who pushes it shut (Push). The printer can go offline.
//
// Pin delivers edges to WaitForEdge the way a Linux GPIO line does (edges between two
// waits collapse into one; In wakes a waiter), so the driver's edge handling is exercised
// as on hardware. It is written here rather than on periph's gpiotest.Pin because that one
// pulls in a clock module the till does not otherwise need.
package drawertest
