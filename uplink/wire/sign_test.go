package wire_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

func testKey(t testing.TB, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// signedTx is a real sale stored by a ledger that signs with priv.
func signedTx(t testing.TB, priv ed25519.PrivateKey) []byte {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), "l.db"), &ledger.Options{Store: "s042", Till: "t03",
		Sign: func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res, err := l.Append(journal.Entry{Kind: journal.KindSale, At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Currency: "PLN", Totals: &journal.Totals{Gross: 499}, Tenders: []journal.Tender{{Kind: "cash", Amount: 500}}})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(res.Raw)
}

func TestSignedTx(t *testing.T) {
	pub, priv := testKey(t, 1)
	other, _ := testKey(t, 2)
	topic := wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}
	raw := signedTx(t, priv)
	tx, err := wire.DecodeTx(topic, raw)
	if err != nil {
		t.Fatalf("signed tx refused: %v", err)
	}
	if err := wire.VerifyEntry(pub, &tx.Entry); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	if err := wire.VerifyEntry(other, &tx.Entry); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("another till's key: %v", err)
	}
	unsigned, err := wire.DecodeTx(topic, sampleTx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.VerifyEntry(pub, &unsigned.Entry); !errors.Is(err, wire.ErrSignature) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("unsigned entry: %v", err)
	}
	// A forger who recomputes the hash of altered content cannot make the signature fit.
	forged := tx.Entry
	forged.Totals = &journal.Totals{Gross: 1}
	forged.Sig = ""
	forged.Hash, _ = forged.ComputeHash()
	forged.Sig = tx.Entry.Sig
	if err := wire.VerifyEntry(pub, &forged); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("altered entry with the old signature: %v", err)
	}
	// A signature that is not even well-formed is refused by the decoder.
	bad := bytes.Replace(raw, []byte(`"sig":"`), []byte(`"sig":"!`), 1)
	if _, err := wire.DecodeTx(topic, bad); !errors.Is(err, wire.ErrInvalid) {
		t.Fatalf("malformed sig: %v", err)
	}
	k, err := wire.ParsePublicKey(wire.FormatPublicKey(pub))
	if err != nil || !k.Equal(pub) {
		t.Fatalf("public key round trip: %v", err)
	}
	for _, s := range []string{"", "ed25519:", "rsa:AAAA", "ed25519:" + strings.Repeat("A", 10)} {
		if _, err := wire.ParsePublicKey(s); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", s)
		}
	}
}

func TestSignedCatalog(t *testing.T) {
	pub, priv := testKey(t, 1)
	other, _ := testKey(t, 2)
	topic := wire.Topic{Store: "s042", Kind: wire.KindCatalog}
	c := validCatalog(t)
	if err := wire.SignCatalog(priv, &c); err != nil {
		t.Fatal(err)
	}
	p, err := wire.EncodeCatalog(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeCatalog(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.VerifyCatalog(pub, got); err != nil {
		t.Fatalf("signed catalog refused: %v", err)
	}
	if err := wire.VerifyCatalog(other, got); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	cheaper, err := wire.DecodeCatalog(topic, bytes.Replace(p, []byte(`"price":499`), []byte(`"price":1`), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.VerifyCatalog(pub, cheaper); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("price changed after signing: %v", err)
	}
	unsigned := validCatalog(t)
	if err := wire.VerifyCatalog(pub, &unsigned); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("unsigned catalog: %v", err)
	}
}

func TestSignedCmd(t *testing.T) {
	pub, priv := testKey(t, 1)
	_, otherPriv := testKey(t, 2)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	sign := func(key ed25519.PrivateKey, till string, exp time.Time) wire.Cmd {
		c := wire.Cmd{ID: "c-1", Name: wire.CmdSyncNow, Args: []byte(`{ "x" : 1 }`)}
		if err := wire.SignCmd(key, &c, "s042", till, exp); err != nil {
			t.Fatal(err)
		}
		p, err := wire.EncodeCmd(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := wire.DecodeCmd(p)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	good := sign(priv, "t03", now.Add(time.Hour))
	if err := wire.VerifyCmd(pub, &good, "s042", "t03", now); err != nil {
		t.Fatalf("good command refused: %v", err)
	}
	cases := []struct {
		name string
		cmd  wire.Cmd
		till string
		want error
	}{
		{"another till's command", good, "t04", wire.ErrIdentity},
		{"wrong key", sign(otherPriv, "t03", now.Add(time.Hour)), "t03", wire.ErrSignature},
		{"expired", sign(priv, "t03", now.Add(-time.Second)), "t03", wire.ErrSignature},
		{"unsigned", wire.Cmd{V: 1, ID: "c-1", Name: wire.CmdSyncNow}, "t03", wire.ErrSignature},
		{"name changed after signing", func() wire.Cmd { c := good; c.Name = wire.CmdUpdate; return c }(), "t03", wire.ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := wire.VerifyCmd(pub, &c.cmd, "s042", c.till, now); !errors.Is(err, c.want) {
				t.Fatalf("error = %v, want %v", err, c.want)
			}
		})
	}
}

func TestSignedAck(t *testing.T) {
	pub, priv := testKey(t, 1)
	other, otherPriv := testKey(t, 2)
	signed := wire.SignAck(priv, "s042", "t03", 1200)
	if n, err := wire.DecodeSignedAck(signed, pub, "s042", "t03"); err != nil || n != 1200 {
		t.Fatalf("signed ack: %d, %v", n, err)
	}
	// A till without HQ's key still reads a signed ack.
	if n, err := wire.DecodeAck(signed); err != nil || n != 1200 {
		t.Fatalf("signed ack read unverified: %d, %v", n, err)
	}
	// Moving the watermark further, or onto another till, breaks the signature or the
	// address; a key that is not HQ's, or no signature at all, is refused.
	raised := bytes.Replace(signed, []byte(`"through":1200`), []byte(`"through":99999`), 1)
	retilled := bytes.Replace(signed, []byte(`"till":"t03"`), []byte(`"till":"t04"`), 1)
	for name, c := range map[string]struct {
		payload []byte
		pub     ed25519.PublicKey
		till    string
		want    error
	}{
		"through raised":     {raised, pub, "t03", wire.ErrSignature},
		"till renamed":       {retilled, pub, "t04", wire.ErrSignature},
		"another till's ack": {signed, pub, "t04", wire.ErrIdentity},
		"another key":        {wire.SignAck(otherPriv, "s042", "t03", 1200), pub, "t03", wire.ErrSignature},
		"wrong key at till":  {signed, other, "t03", wire.ErrSignature},
		"unsigned":           {wire.EncodeAck(1200), pub, "t03", wire.ErrSignature},
		"garbage signature":  {bytes.Replace(signed, []byte(`"sig":"`), []byte(`"sig":"x`), 1), pub, "t03", wire.ErrSignature},
		"not JSON":           {[]byte("ack!"), pub, "t03", wire.ErrNotJSON},
	} {
		if n, err := wire.DecodeSignedAck(c.payload, c.pub, "s042", c.till); !errors.Is(err, c.want) {
			t.Errorf("%s: through %d, err %v, want %v", name, n, err, c.want)
		}
	}
}

// TestAckPayload: HQ's one ack encoder gives the unsigned ack without a key (no names,
// nothing a till that knows HQ's key accepts) and, with one, the ack that till accepts.
func TestAckPayload(t *testing.T) {
	pub, priv := testKey(t, 1)
	plain := wire.AckPayload(nil, "s042", "t03", 77)
	if string(plain) != `{"v":1,"through":77}` {
		t.Fatalf("unsigned ack %s", plain)
	}
	if n, err := wire.DecodeAck(plain); err != nil || n != 77 {
		t.Fatalf("unsigned ack read back: %d, %v", n, err)
	}
	if _, err := wire.DecodeSignedAck(plain, pub, "s042", "t03"); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("unsigned ack at a till with HQ's key: %v, want ErrSignature", err)
	}
	signed := wire.AckPayload(priv, "s042", "t03", 77)
	if n, err := wire.DecodeSignedAck(signed, pub, "s042", "t03"); err != nil || n != 77 {
		t.Fatalf("signed ack: %d, %v", n, err)
	}
	if !bytes.Equal(signed, wire.SignAck(priv, "s042", "t03", 77)) {
		t.Fatalf("AckPayload with a key %s differs from SignAck %s", signed, wire.SignAck(priv, "s042", "t03", 77))
	}
}
