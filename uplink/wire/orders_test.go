package wire_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"tillbox/uplink/wire"
)

// TestCatalogOrders: orders travel with the catalog, range-checked like the rest, and a
// catalog without orders encodes to the same bytes as before they existed.
func TestCatalogOrders(t *testing.T) {
	topic := wire.Topic{Store: "s042", Kind: wire.KindCatalog}
	plain, err := wire.EncodeCatalog(validCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte("orders")) {
		t.Fatalf("a catalog without orders names them: %s", plain)
	}
	withOrders := func() wire.Catalog {
		c := validCatalog(t)
		c.Orders = []wire.Order{{Number: "ZW/2026/77", To: "w2", Lines: []wire.OrderLine{{Item: "123", Qty: 5000}, {Item: "200", Qty: 2500}}}}
		return c
	}
	p, err := wire.EncodeCatalog(withOrders())
	if err != nil {
		t.Fatal(err)
	}
	c, err := wire.DecodeCatalog(topic, p)
	if err != nil || len(c.Orders) != 1 || c.Orders[0].Lines[1].Qty != 2500 || c.Orders[0].To != "w2" {
		t.Fatalf("decoded %+v, %v", c, err)
	}
	cases := []struct {
		name string
		mod  func(c *wire.Catalog)
		want error
		says string
	}{
		{"no number", func(c *wire.Catalog) { c.Orders[0].Number = "" }, wire.ErrMissing, "number"},
		{"a number with a space", func(c *wire.Catalog) { c.Orders[0].Number = "ZW 77" }, wire.ErrInvalid, "printable"},
		{"a number too long", func(c *wire.Catalog) { c.Orders[0].Number = strings.Repeat("7", 65) }, wire.ErrInvalid, "1-64"},
		{"twice", func(c *wire.Catalog) { c.Orders = append(c.Orders, c.Orders[0]) }, wire.ErrInvalid, "defined twice"},
		{"no lines", func(c *wire.Catalog) { c.Orders[0].Lines = nil }, wire.ErrMissing, "lines"},
		{"an unknown item", func(c *wire.Catalog) { c.Orders[0].Lines[0].Item = "999" }, wire.ErrInvalid, "unknown item"},
		{"an item twice", func(c *wire.Catalog) { c.Orders[0].Lines[1].Item = "123" }, wire.ErrInvalid, "twice"},
		{"a zero quantity", func(c *wire.Catalog) { c.Orders[0].Lines[0].Qty = 0 }, wire.ErrInvalid, "quantity"},
		{"a negative quantity", func(c *wire.Catalog) { c.Orders[0].Lines[0].Qty = -1 }, wire.ErrInvalid, "quantity"},
		{"a quantity above MaxQty", func(c *wire.Catalog) { c.Orders[0].Lines[0].Qty = wire.MaxQty + 1 }, wire.ErrInvalid, "quantity"},
		{"a destination with a space", func(c *wire.Catalog) { c.Orders[0].To = "w 2" }, wire.ErrInvalid, "to"},
		{"too many lines", func(c *wire.Catalog) {
			c.Orders[0].Lines = make([]wire.OrderLine, wire.MaxOrderLines+1)
		}, wire.ErrInvalid, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := withOrders()
			tc.mod(&c)
			p, err := wire.EncodeCatalog(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = wire.DecodeCatalog(topic, p)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}
