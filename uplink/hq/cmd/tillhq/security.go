package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// caCmd runs the fleet CA: tillhq ca init|sign|account|server|revoke|crl --ca DIR.
func caCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("ca: want init, sign, account, server, revoke or crl")
	}
	sub := args[0]
	fs := flag.NewFlagSet("tillhq ca "+sub, flag.ExitOnError)
	dir := fs.String("ca", envOr("TILLHQ_CA", "ca"), "CA directory (keys 0600)")
	name := fs.String("name", "tillbox fleet CA", "init: the CA's name")
	out := fs.String("out", "", "account, server: write NAME.crt and NAME.key in this directory (default: the CA directory)")
	hosts := fs.String("host", "", "server: the broker's host names and addresses, comma separated")
	fs.Parse(args[1:])
	now := time.Now()
	if sub == "init" {
		ca, err := identity.InitCA(*dir, *name, now)
		if err != nil {
			return err
		}
		fmt.Printf("CA %q in %s\nbroker: %s and %s\nHQ signing key (give it to every till: tillbox provision --hq-key):\n%s\n",
			*name, *dir, filepath.Join(*dir, identity.CACertFile), filepath.Join(*dir, identity.CRLFile), ca.SigningPublicKey())
		return nil
	}
	ca, err := identity.OpenCA(*dir)
	if err != nil {
		return err
	}
	writePair := func(base string, cert, key []byte) error {
		d := *out
		if d == "" {
			d = *dir
		}
		if err := os.WriteFile(filepath.Join(d, base+".crt"), cert, 0o644); err != nil {
			return fmt.Errorf("ca %s: %w", sub, err)
		}
		if err := os.WriteFile(filepath.Join(d, base+".key"), key, 0o600); err != nil {
			return fmt.Errorf("ca %s: %w", sub, err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s.crt and %s.key in %s\n", base, base, d)
		return nil
	}
	switch sub {
	case "sign":
		if fs.NArg() != 1 {
			return errors.New("ca sign: give the till's tls.csr")
		}
		csr, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("ca sign: %w", err)
		}
		cert, err := ca.SignCSR(csr, now)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(cert)
		return err
	case "account":
		if fs.NArg() != 1 {
			return errors.New("ca account: give the account's name (tillhq, fleet)")
		}
		cert, key, err := ca.IssueAccount(fs.Arg(0), now)
		if err != nil {
			return err
		}
		return writePair(fs.Arg(0), cert, key)
	case "server":
		if *hosts == "" {
			return errors.New("ca server: --host is required")
		}
		cert, key, err := ca.IssueServer(strings.Split(*hosts, ","), now)
		if err != nil {
			return err
		}
		return writePair("broker", cert, key)
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("ca revoke: give the certificate to revoke")
		}
		cert, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("ca revoke: %w", err)
		}
		if err := ca.Revoke(cert, now); err != nil {
			return err
		}
		fmt.Printf("revoked; copy %s to the broker and restart it\n", filepath.Join(*dir, identity.CRLFile))
		return nil
	case "crl":
		return ca.WriteCRL(now)
	}
	return fmt.Errorf("ca: unknown subcommand %q", sub)
}

// register records a till's device key: tillhq register --keys DIR STORE TILL KEY.
func register(args []string) error {
	fs := flag.NewFlagSet("tillhq register", flag.ExitOnError)
	keys := fs.String("keys", envOr("TILLHQ_KEYS", "keys"), "device key registry directory")
	fs.Parse(args)
	if fs.NArg() != 3 {
		return errors.New("register: give STORE TILL KEY (the key tillbox provision printed)")
	}
	kd := &hq.KeyDir{Dir: *keys}
	if err := kd.Register(fs.Arg(0), fs.Arg(1), fs.Arg(2)); err != nil {
		return err
	}
	fmt.Printf("%s/%s registered; regenerate the broker's ACL (tillhq acl)\n", fs.Arg(0), fs.Arg(1))
	return nil
}

// acl prints the broker's ACL: the shipped base and a catalog grant per registered till.
func acl(args []string) error {
	fs := flag.NewFlagSet("tillhq acl", flag.ExitOnError)
	keys := fs.String("keys", envOr("TILLHQ_KEYS", "keys"), "device key registry directory")
	base := fs.String("base", "scripts/mosquitto/acl", "the shipped ACL")
	prefix := fs.String("prefix", wire.DefaultPrefix, "topic prefix")
	fs.Parse(args)
	b, err := os.ReadFile(*base)
	if err != nil {
		return fmt.Errorf("acl: %w", err)
	}
	tills, err := (&hq.KeyDir{Dir: *keys}).Tills()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(hq.ACL(b, *prefix, tills))
	return err
}

// cmdCmd sends one signed command to a till and waits for its result:
// tillhq cmd --broker URL --sign-key hq-sign.key STORE TILL NAME [ARGS-JSON].
func cmdCmd(ctx context.Context, args []string) error {
	c := newFlags("cmd")
	id := c.fs.String("id", "", "command id (default random); the same id is answered, not run again")
	wait := c.fs.Duration("wait", 30*time.Second, "how long to wait for the result")
	ttl := c.fs.Duration("expires", time.Hour, "how long the command stays valid")
	c.fs.Parse(args)
	if c.fs.NArg() < 3 || c.fs.NArg() > 4 {
		return errors.New("cmd: give STORE TILL NAME [ARGS-JSON]")
	}
	store, till := c.fs.Arg(0), c.fs.Arg(1)
	cmd := wire.Cmd{ID: *id, Name: c.fs.Arg(2)}
	if cmd.ID == "" {
		b := make([]byte, 8)
		rand.Read(b)
		cmd.ID = hex.EncodeToString(b)
	}
	if c.fs.NArg() == 4 {
		if !json.Valid([]byte(c.fs.Arg(3))) {
			return errors.New("cmd: ARGS must be JSON")
		}
		cmd.Args = json.RawMessage(c.fs.Arg(3))
	}
	k, err := c.signingKey()
	if err != nil {
		return err
	}
	if k != nil {
		if err := wire.SignCmd(k, &cmd, store, till, time.Now().Add(*ttl)); err != nil {
			return err
		}
	}
	p, err := wire.EncodeCmd(cmd)
	if err != nil {
		return err
	}
	cli, err := c.connect("tillhq-cmd")
	if err != nil {
		return err
	}
	defer cli.Disconnect(250)
	topics := wire.Topics{Prefix: c.prefix}
	got := make(chan wire.CmdResult, 1)
	sub := cli.Subscribe(topics.CmdResult(store, till), 1, func(_ mqtt.Client, m mqtt.Message) {
		if r, err := wire.DecodeCmdResult(m.Payload()); err == nil && r.ID == cmd.ID {
			select {
			case got <- r:
			default:
			}
		}
	})
	if !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
		return fmt.Errorf("cmd: subscribe: %v", sub.Error())
	}
	if t := cli.Publish(topics.Cmd(store, till), 1, false, p); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("cmd: publish: %v", t.Error())
	}
	select {
	case r := <-got:
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
		if !r.OK {
			return fmt.Errorf("cmd %s: %s", cmd.ID, r.Error)
		}
		return nil
	case <-time.After(*wait):
		return fmt.Errorf("cmd %s: no result within %s (the till may be offline, or refused it: see its events)", cmd.ID, *wait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// catalogCmd publishes a store's catalog, signed, retained:
// tillhq catalog --broker URL --sign-key hq-sign.key FILE.json.
func catalogCmd(args []string) error {
	c := newFlags("catalog")
	c.fs.Parse(args)
	if c.fs.NArg() != 1 {
		return errors.New("catalog: give the catalog file")
	}
	b, err := os.ReadFile(c.fs.Arg(0))
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	var cat wire.Catalog
	if err := json.Unmarshal(b, &cat); err != nil {
		return fmt.Errorf("catalog: %s: %w", c.fs.Arg(0), err)
	}
	cat.V = wire.Version
	if err := cat.Validate(); err != nil {
		return err
	}
	k, err := c.signingKey()
	if err != nil {
		return err
	}
	if k != nil {
		if err := wire.SignCatalog(k, &cat); err != nil {
			return err
		}
	}
	p, err := wire.EncodeCatalog(cat)
	if err != nil {
		return err
	}
	cli, err := c.connect("tillhq-catalog")
	if err != nil {
		return err
	}
	defer cli.Disconnect(250)
	if t := cli.Publish(wire.Topics{Prefix: c.prefix}.Catalog(cat.Store), 1, true, p); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("catalog: publish: %v", t.Error())
	}
	fmt.Printf("catalog %s version %d published (%d items, %d cashiers)\n", cat.Store, cat.Version, len(cat.Items), len(cat.Cashiers))
	return nil
}
