// Package scanner is the till's scanner driver.
package scanner
