package till

// Catalog is the master data the engine sells from. Prices include tax and are in minor
// units of Config.Currency.
type Catalog struct {
	Version  int64
	Items    map[string]Item    // by item code (PLU)
	Barcodes map[string]string  // barcode -> item code
	Taxes    map[string]Tax     // by tax code
	Cashiers map[string]Cashier // by cashier id
	Orders   map[string]Order   // open stock transfer orders, by order number
}

// Item is a sellable item.
type Item struct {
	Code    string
	Name    string
	Price   int64 // per piece, or per kilogram when Weighed; 0 means the price is missing
	Tax     string
	Weighed bool
	Age     int // minimum customer age the cashier confirms before the item is sold; 0: none
}

// Tax is a tax rate.
type Tax struct {
	Code string
	Rate int64 // basis points: 2300 = 23%
}

// Role is what a cashier may do.
type Role string

const (
	RoleCashier    Role = "cashier"
	RoleSupervisor Role = "supervisor"
)

// Cashier is a person who may sign on. PINHash is in the catalog's form (wire.HashPIN);
// the PIN itself is never stored.
type Cashier struct {
	ID      string
	Name    string
	Role    Role
	PINHash string
}

// Order is a stock transfer order from HQ: the quantities (thousandths) expected per item.
type Order struct {
	Number string
	To     string
	Lines  map[string]int64
}
