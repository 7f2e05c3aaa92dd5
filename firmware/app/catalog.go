package app

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"tillbox/firmware/till"
	"tillbox/uplink/wire"
)

//go:embed demo-catalog.json
var demoCatalog []byte

// loadCatalog reads the catalog named by the config: "demo" (embedded) or a file in the
// form HQ publishes.
func loadCatalog(name, store, currency string) (*till.Catalog, error) {
	b := demoCatalog
	if name != "demo" {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
	}
	var c wire.Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	}
	if name == "demo" {
		c.Store, c.Currency = store, currency
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	}
	if c.Currency != currency {
		return nil, fmt.Errorf("catalog %s: prices in %s, but this till sells in %s", name, c.Currency, currency)
	}
	return fromWire(&c), nil
}

// fromWire converts the catalog as HQ publishes it into what the sale engine sells from.
func fromWire(c *wire.Catalog) *till.Catalog {
	out := &till.Catalog{
		Version:  int64(c.Version),
		Items:    map[string]till.Item{},
		Barcodes: map[string]string{},
		Taxes:    map[string]till.Tax{},
		Cashiers: map[string]till.Cashier{},
		Orders:   map[string]till.Order{},
	}
	for _, t := range c.Taxes {
		out.Taxes[t.Code] = till.Tax{Code: t.Code, Rate: t.Rate}
	}
	for _, it := range c.Items {
		out.Items[it.Code] = till.Item{Code: it.Code, Name: it.Name, Price: it.Price, Tax: it.Tax, Weighed: it.Unit == wire.UnitKg, Age: it.OpenAge}
		for _, b := range it.Barcodes {
			out.Barcodes[b] = it.Code
		}
	}
	for _, p := range c.Cashiers {
		role := till.RoleCashier
		if p.Role == wire.RoleSupervisor || p.Role == wire.RoleManager {
			role = till.RoleSupervisor
		}
		out.Cashiers[p.ID] = till.Cashier{ID: p.ID, Name: p.Name, Role: role, PINHash: p.PINHash}
	}
	for _, o := range c.Orders {
		lines := make(map[string]int64, len(o.Lines))
		for _, l := range o.Lines {
			lines[l.Item] = l.Qty
		}
		out.Orders[o.Number] = till.Order{Number: o.Number, To: o.To, Lines: lines}
	}
	return out
}
