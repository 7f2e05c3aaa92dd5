package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// caArg is what each ca subcommand that takes an argument wants of it.
var caArg = map[string]string{
	"sign":    "give the till's tls.csr",
	"account": "give the account's name (tillhq, fleet)",
	"revoke":  "give the certificate to revoke",
}

// caCmd runs the fleet CA: tillhq ca init|sign|account|server|revoke|crl --ca DIR.
func caCmd(_ context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"ca: want init, sign, account, server, revoke or crl"}
	}
	sub := args[0]
	fs := e.flagSet("ca " + sub)
	dir := fs.String("ca", envOr("TILLHQ_CA", "ca"), "CA directory (keys 0600)")
	name := fs.String("name", "tillbox fleet CA", "init: the CA's name")
	out := fs.String("out", "", "account, server: write NAME.crt and NAME.key in this directory (default: the CA directory)")
	hosts := fs.String("host", "", "server: the broker's host names and addresses, comma separated")
	switch sub {
	case "init", "sign", "account", "server", "revoke", "crl":
	default:
		if strings.HasPrefix(sub, "-") { // tillhq ca --help
			if err := parse(fs, args); err != nil {
				return err
			}
		}
		return usageError{fmt.Sprintf("ca: unknown subcommand %q: want init, sign, account, server, revoke or crl", sub)}
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if want, ok := caArg[sub]; ok {
		if err := nargs(fs, 1, 1, want); err != nil {
			return err
		}
	} else if err := nargs(fs, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	// readArg reads the file the argument names.
	readArg := func() ([]byte, error) {
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return nil, fmt.Errorf("ca %s: %w", sub, err)
		}
		return b, nil
	}
	now := time.Now()
	if sub == "init" {
		ca, err := identity.InitCA(*dir, *name, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "CA %q in %s\nbroker: %s and %s\nHQ signing key (give it to every till: tillbox provision --hq-key):\n%s\n",
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
		fmt.Fprintf(e.stderr, "wrote %s.crt and %s.key in %s\n", base, base, d)
		return nil
	}
	switch sub {
	case "sign":
		csr, err := readArg()
		if err != nil {
			return err
		}
		cert, err := ca.SignCSR(csr, now)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(cert)
		return err
	case "account":
		cert, key, err := ca.IssueAccount(fs.Arg(0), now)
		if err != nil {
			return err
		}
		return writePair(fs.Arg(0), cert, key)
	case "server":
		if *hosts == "" {
			return usageError{"ca server: --host is required"}
		}
		cert, key, err := ca.IssueServer(strings.Split(*hosts, ","), now)
		if err != nil {
			return err
		}
		return writePair("broker", cert, key)
	case "revoke":
		cert, err := readArg()
		if err != nil {
			return err
		}
		if err := ca.Revoke(cert, now); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked; copy %s to the broker and restart it\n", filepath.Join(*dir, identity.CRLFile))
		return nil
	case "crl":
		return ca.WriteCRL(now)
	}
	return nil
}

// register records a till's device key: tillhq register --keys DIR STORE TILL KEY.
func register(_ context.Context, e *env, args []string) error {
	fs := e.flagSet("register")
	keys := fs.String("keys", envOr("TILLHQ_KEYS", "keys"), "device key registry directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := nargs(fs, 3, 3, "give STORE TILL KEY (the key tillbox provision printed)"); err != nil {
		return err
	}
	kd := &hq.KeyDir{Dir: *keys}
	if err := kd.Register(fs.Arg(0), fs.Arg(1), fs.Arg(2)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s/%s registered; regenerate the broker's ACL (tillhq acl)\n", fs.Arg(0), fs.Arg(1))
	return nil
}

// acl prints the broker's ACL: the shipped base and a catalog grant per registered till.
func acl(_ context.Context, e *env, args []string) error {
	fs := e.flagSet("acl")
	keys := fs.String("keys", envOr("TILLHQ_KEYS", "keys"), "device key registry directory")
	base := fs.String("base", "scripts/mosquitto/acl", "the shipped ACL")
	prefix := fs.String("prefix", wire.DefaultPrefix, "topic prefix")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := nargs(fs, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	b, err := os.ReadFile(*base)
	if err != nil {
		return fmt.Errorf("acl: %w", err)
	}
	tills, err := (&hq.KeyDir{Dir: *keys}).Tills()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(hq.ACL(b, *prefix, tills))
	return err
}
