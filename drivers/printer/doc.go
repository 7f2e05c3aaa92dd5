// Package printer is the till's printer driver.
package printer
