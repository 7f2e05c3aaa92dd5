package wire_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// sampleTx returns the stored bytes of a real sale, as the ledger wrote them.
func sampleTx(t testing.TB) []byte {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), "l.db"), &ledger.Options{Store: "s042", Till: "t03"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res, err := l.Append(journal.Entry{Kind: journal.KindSale, At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Cashier: "c1", Currency: "PLN", Lines: []journal.Line{{Item: "123", Qty: 1000, Price: 499, Amount: 499, Tax: "A"}},
		Totals: &journal.Totals{Gross: 499}, Tenders: []journal.Tender{{Kind: "cash", Amount: 500}}})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(res.Raw)
}

func TestTopicsBuildAndParse(t *testing.T) {
	tp := wire.Topics{}
	cases := []struct {
		topic string
		want  wire.Topic
	}{
		{tp.Tx("s042", "t03"), wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}},
		{tp.Ack("s042", "t03"), wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindAck}},
		{tp.CmdResult("a", "b-1"), wire.Topic{Store: "a", Till: "b-1", Kind: wire.KindCmdResult}},
		{tp.Catalog("s042"), wire.Topic{Store: "s042", Kind: wire.KindCatalog}},
	}
	for _, c := range cases {
		got, err := tp.Parse(c.topic)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.topic, got, err, c.want)
		}
	}
	if got := tp.Tx("s042", "t03"); got != "tillbox/v1/s042/t03/tx" {
		t.Errorf("Tx = %q", got)
	}
	if got := (wire.Topics{Prefix: "acme/pos/"}).Ack("s1", "t1"); got != "acme/pos/s1/t1/ack" {
		t.Errorf("prefixed Ack = %q", got)
	}
	if got := wire.Shared("hq", tp.AllTills(wire.KindTx)); got != "$share/hq/tillbox/v1/+/+/tx" {
		t.Errorf("Shared = %q", got)
	}
	for _, bad := range []string{
		"other/v1/s/t/tx", "tillbox/v1/s/t/nope", "tillbox/v1/S042/t03/tx", "tillbox/v1/s/+/tx",
		"tillbox/v1/s//tx", "tillbox/v1/s/t/tx/x", "tillbox/v1/-s/t/tx", "tillbox/v1/catalog",
	} {
		if _, err := tp.Parse(bad); !errors.Is(err, wire.ErrTopic) {
			t.Errorf("Parse(%q) error = %v, want ErrTopic", bad, err)
		}
	}
	for _, bad := range []string{"", "a/+/b", "#", "$SYS/x", "a//b", "/a"} {
		if err := wire.CheckPrefix(bad); err == nil {
			t.Errorf("CheckPrefix(%q) accepted", bad)
		}
	}
}

func TestDecodeTx(t *testing.T) {
	good := sampleTx(t)
	topic := wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}
	tx, err := wire.DecodeTx(topic, good)
	if err != nil {
		t.Fatalf("good tx refused: %v", err)
	}
	if tx.Entry.Seq != 1 || tx.Entry.Receipt != "S042-T03-000001" || !bytes.Equal(tx.Raw, good) {
		t.Fatalf("decoded %+v", tx.Entry)
	}
	edit := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }
	cases := []struct {
		name    string
		topic   wire.Topic
		payload []byte
		want    error
	}{
		{"oversized", topic, append(bytes.Repeat([]byte(" "), wire.MaxTxBytes), good...), wire.ErrTooLarge},
		{"not json", topic, []byte("hello"), wire.ErrNotJSON},
		{"truncated json", topic, good[:len(good)-3], wire.ErrNotJSON},
		{"json array", topic, []byte("[1,2]"), wire.ErrNotJSON},
		{"trailing data", topic, append(bytes.Clone(good), []byte(" {}")...), wire.ErrNotJSON},
		{"no version", topic, edit(`"v":1,`, ``), wire.ErrVersion},
		{"version 2", topic, edit(`"v":1`, `"v":2`), wire.ErrVersion},
		{"unknown field", topic, edit(`"v":1,`, `"v":1,"evil":true,`), wire.ErrNotJSON},
		{"wrong till in payload", wire.Topic{Store: "s042", Till: "t04", Kind: wire.KindTx}, good, wire.ErrIdentity},
		{"wrong store in payload", wire.Topic{Store: "s043", Till: "t03", Kind: wire.KindTx}, good, wire.ErrIdentity},
		{"missing seq", topic, edit(`"seq":1,`, ``), wire.ErrMissing},
		{"missing hash", topic, append(bytes.Clone(good[:bytes.Index(good, []byte(`,"hash"`))]), '}'), wire.ErrMissing},
		{"tampered amount", topic, edit(`"amount":499`, `"amount":1`), wire.ErrInvalid},
		{"string seq", topic, edit(`"seq":1`, `"seq":"1"`), wire.ErrInvalid},
		{"not a tx topic", wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindAck}, good, wire.ErrTopic},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := wire.DecodeTx(c.topic, c.payload)
			if !errors.Is(err, c.want) {
				t.Fatalf("error = %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "wire: ") {
				t.Errorf("error %q does not name the package", err)
			}
		})
	}
}

func TestSmallMessagesRoundTrip(t *testing.T) {
	if n, err := wire.DecodeAck(wire.EncodeAck(42)); err != nil || n != 42 {
		t.Fatalf("ack round trip = %d, %v", n, err)
	}
	if string(wire.EncodeAck(7)) != `{"v":1,"through":7}` {
		t.Fatalf("ack bytes %s", wire.EncodeAck(7))
	}
	for _, bad := range []struct {
		p    string
		want error
	}{
		{`{"v":1}`, wire.ErrMissing}, {`{"v":1,"through":-1}`, wire.ErrInvalid}, {`{"through":3}`, wire.ErrVersion},
		{`{"v":1,"through":3,"x":1}`, wire.ErrNotJSON}, {`nope`, wire.ErrNotJSON},
	} {
		if _, err := wire.DecodeAck([]byte(bad.p)); !errors.Is(err, bad.want) {
			t.Errorf("DecodeAck(%s) = %v, want %v", bad.p, err, bad.want)
		}
	}
	if s, err := wire.DecodeStatus(wire.LostWill()); err != nil || s.State != wire.StateLost {
		t.Fatalf("will = %+v, %v", s, err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := wire.EncodeStatus(wire.Status{State: wire.StateOnline, At: &now, Backlog: 3, Devices: []wire.Device{{Name: "printer", State: "paper-out"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := wire.DecodeStatus(p); err != nil || s.Backlog != 3 || s.Devices[0].State != "paper-out" {
		t.Fatalf("status = %+v, %v", s, err)
	}
	c, err := wire.EncodeCmd(wire.Cmd{ID: "abc-1", Name: wire.CmdSyncNow})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := wire.DecodeCmd(c); err != nil || got.ID != "abc-1" || got.Name != wire.CmdSyncNow {
		t.Fatalf("cmd = %+v, %v", got, err)
	}
	for _, bad := range []string{`{"v":1,"name":"x"}`, `{"v":1,"id":"a b","name":"x"}`, `{"v":1,"id":"a"}`} {
		if _, err := wire.DecodeCmd([]byte(bad)); err == nil {
			t.Errorf("DecodeCmd(%s) accepted", bad)
		}
	}
	if _, err := wire.DecodeEvent([]byte(`{"v":1,"at":"2026-01-01T00:00:00Z"}`)); !errors.Is(err, wire.ErrMissing) {
		t.Errorf("event without kind: %v", err)
	}
}

func validCatalog(t testing.TB) wire.Catalog {
	h, err := wire.HashPIN("1234", []byte("saltsalt"), wire.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Catalog{Store: "s042", Version: 3, Currency: "PLN",
		Taxes: []wire.Tax{{Code: "A", Rate: 2300}, {Code: "B", Rate: 800}},
		Items: []wire.Item{
			{Code: "123", Name: "Bread", Barcodes: []string{"5901234123457"}, Price: 499, Tax: "B"},
			{Code: "200", Name: "Cheese", Price: 3990, Tax: "A", Unit: wire.UnitKg},
		},
		Cashiers: []wire.Cashier{{ID: "c1", Name: "Ann", PINHash: h, Role: wire.RoleSupervisor}},
	}
}

func TestCatalog(t *testing.T) {
	topic := wire.Topic{Store: "s042", Kind: wire.KindCatalog}
	good := validCatalog(t)
	p, err := wire.EncodeCatalog(good)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wire.DecodeCatalog(topic, p)
	if err != nil {
		t.Fatalf("valid catalog refused: %v", err)
	}
	if c.Item("200").Price != 3990 || !wire.CheckPIN(c.Cashiers[0].PINHash, "1234") || wire.CheckPIN(c.Cashiers[0].PINHash, "1235") {
		t.Fatalf("decoded catalog wrong: %+v", c)
	}
	cases := []struct {
		name string
		mod  func(c *wire.Catalog)
		want error
	}{
		{"negative price", func(c *wire.Catalog) { c.Items[0].Price = -1 }, wire.ErrInvalid},
		{"absurd price", func(c *wire.Catalog) { c.Items[0].Price = wire.MaxPrice + 1 }, wire.ErrInvalid},
		{"unknown tax", func(c *wire.Catalog) { c.Items[0].Tax = "Z" }, wire.ErrInvalid},
		{"duplicate item", func(c *wire.Catalog) { c.Items[1].Code = "123" }, wire.ErrInvalid},
		{"duplicate barcode", func(c *wire.Catalog) { c.Items[1].Barcodes = []string{"5901234123457"} }, wire.ErrInvalid},
		{"plain pin", func(c *wire.Catalog) { c.Cashiers[0].PINHash = "1234" }, wire.ErrInvalid},
		{"no version", func(c *wire.Catalog) { c.Version = 0 }, wire.ErrMissing},
		{"other store", func(c *wire.Catalog) { c.Store = "s043" }, wire.ErrIdentity},
		{"tax rate over 100%", func(c *wire.Catalog) { c.Taxes[0].Rate = 10001 }, wire.ErrInvalid},
		{"bad role", func(c *wire.Catalog) { c.Cashiers[0].Role = "root" }, wire.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validCatalog(t)
			tc.mod(&c)
			p, err := wire.EncodeCatalog(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wire.DecodeCatalog(topic, p); !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := wire.DecodeCatalog(topic, []byte(`{"v":1,"store":"s042","version":"x"}`)); !errors.Is(err, wire.ErrInvalid) {
		t.Errorf("string version: %v", err)
	}
}

// FuzzDecode feeds arbitrary payloads to every decoder: none may panic, and whatever
// DecodeTx accepts must carry a matching hash and the topic's identity.
func FuzzDecode(f *testing.F) {
	f.Add(sampleTx(f))
	f.Add([]byte(`{"v":1,"through":3}`))
	f.Add([]byte(`{"v":1,"state":"lost"}`))
	f.Add([]byte(`{"v":1,"id":"x","name":"sync-now"}`))
	f.Add([]byte(`{"v":1,"store":"s042","version":1,"currency":"PLN","taxes":[],"items":[],"cashiers":[]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`[]`))
	topic := wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}
	f.Fuzz(func(t *testing.T, p []byte) {
		if tx, err := wire.DecodeTx(topic, p); err == nil {
			if tx.Entry.Store != "s042" || tx.Entry.Till != "t03" || tx.Entry.CheckHash() != nil {
				t.Fatalf("accepted a tx that does not hold: %+v", tx.Entry)
			}
		}
		wire.DecodeAck(p)
		wire.DecodeStatus(p)
		wire.DecodeEvent(p)
		wire.DecodeCmd(p)
		wire.DecodeCmdResult(p)
		if c, err := wire.DecodeCatalog(wire.Topic{Store: "s042", Kind: wire.KindCatalog}, p); err == nil {
			if c.Validate() != nil || c.Store != "s042" {
				t.Fatalf("accepted an invalid catalog")
			}
		}
	})
}
