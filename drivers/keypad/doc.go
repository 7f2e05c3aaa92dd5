// Package keypad is the till's keypad driver.
package keypad
