package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// caArg is what each ca subcommand that takes an argument wants of it.
var caArg = map[string]string{
	"sign":    "give the till's tls.csr",
	"account": "give the account's name (tillhq, fleet)",
}

const caSubs = "init, sign, account, server, revoke, crl or list"

// caCmd runs the fleet CA: tillhq ca init|sign|account|server|revoke|crl|list --ca DIR.
func caCmd(_ context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"ca: want " + caSubs}
	}
	sub := args[0]
	fs := e.flagSet("ca " + sub)
	dir := fs.String("ca", envOr("TILLHQ_CA", "ca"), "CA directory (keys 0600)")
	name := fs.String("name", "tillbox fleet CA", "init: the CA's name")
	out := fs.String("out", "", "account, server: write NAME.crt and NAME.key in this directory (default: the CA directory)")
	hosts := fs.String("host", "", "server: the broker's host names and addresses, comma separated")
	node := fs.Bool("cluster-node", false, "server: for a node of a NATS cluster (its routes verify each other): also a client certificate; writes server.crt and server.key")
	replace := fs.Bool("replace", false, "sign: give the till a new identity, revoking every certificate it holds")
	till := fs.String("till", "", "revoke: revoke every certificate of this till (STORE/TILL) instead of a certificate file")
	days := fs.Int("days", int(identity.CertValidity/(24*time.Hour)), "sign, account, server: the certificate's lifetime in days")
	asJSON := fs.Bool("json", false, "list: print JSON")
	switch sub {
	case "init", "sign", "account", "server", "revoke", "crl", "list":
	default:
		if strings.HasPrefix(sub, "-") { // tillhq ca --help
			if err := parse(fs, args); err != nil {
				return err
			}
		}
		return usageError{fmt.Sprintf("ca: unknown subcommand %q: want %s", sub, caSubs)}
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if want, ok := caArg[sub]; ok {
		if err := nargs(fs, 1, 1, want); err != nil {
			return err
		}
	} else if sub == "revoke" {
		if (fs.NArg() == 1) == (*till != "") || fs.NArg() > 1 {
			return usageError{"ca revoke: give the certificate to revoke, or --till STORE/TILL"}
		}
	} else if err := nargs(fs, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	if *days < 1 || *days > 20*365 {
		return usageError{"ca: --days must be between 1 and 7300"}
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
	ca.Validity = time.Duration(*days) * 24 * time.Hour
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
		sign := ca.SignCSR
		if *replace {
			sign = ca.SignReplacing
		}
		cert, err := sign(csr, now)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(cert)
		return err
	case "list":
		list, err := ca.Inventory()
		if err != nil {
			return err
		}
		if *asJSON {
			b, _ := json.MarshalIndent(list, "", "  ")
			_, err := fmt.Fprintf(e.stdout, "%s\n", b)
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tKIND\tSERIAL\tNOT AFTER\tSTATE")
		for _, i := range list {
			state := "current"
			switch {
			case i.Revoked != nil:
				state = "revoked " + i.Revoked.Format(time.DateOnly)
			case !now.Before(i.NotAfter):
				state = "expired"
			case i.Renewed != nil:
				state = "renewed " + i.Renewed.Format(time.DateOnly)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", i.Name, i.Kind, i.Serial, i.NotAfter.Format(time.DateOnly), state)
		}
		return w.Flush()
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
		if *node {
			cert, key, err := ca.IssueClusterNode(strings.Split(*hosts, ","), now)
			if err != nil {
				return err
			}
			return writePair("server", cert, key)
		}
		cert, key, err := ca.IssueServer(strings.Split(*hosts, ","), now)
		if err != nil {
			return err
		}
		return writePair("broker", cert, key)
	case "revoke":
		if *till != "" {
			s, t, ok := strings.Cut(*till, "/")
			if !ok || !journal.ValidID(s) || !journal.ValidID(t) {
				return usageError{fmt.Sprintf("ca revoke: --till %q: want STORE/TILL", *till)}
			}
			gone, err := ca.RevokeName(identity.Name(s, t), now)
			if err != nil {
				return err
			}
			for _, i := range gone {
				fmt.Fprintf(e.stdout, "%s: certificate %s revoked\n", i.Name, i.Serial)
			}
		} else {
			cert, err := readArg()
			if err != nil {
				return err
			}
			if err := ca.Revoke(cert, now); err != nil {
				return err
			}
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
