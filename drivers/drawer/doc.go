// Package drawer is the till's drawer driver.
package drawer
