// Package display is the till's display driver.
package display
