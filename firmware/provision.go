package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"tillbox/firmware/config"
	"tillbox/uplink/identity"
)

// provisionCmd gives the till its identity, in two steps a technician runs on the box:
//
//	tillbox provision [--config FILE] [--data DIR]
//	    writes the device key, the TLS key and the certificate request to DATA/keys and
//	    prints the device's public key and the request's path for head office;
//	tillbox provision --cert tls.crt --ca ca.crt --hq-key ed25519:... [--data DIR]
//	    installs what head office sent back (tillhq ca sign, tillhq ca init's hq.pub).
//
// It never prints or overwrites a private key; a till that already has keys keeps them.
func provisionCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (store, till, data directory)")
	data := fs.String("data", "", "data directory (overrides the config's)")
	cert := fs.String("cert", "", "install: the certificate signed by the fleet CA")
	ca := fs.String("ca", "", "install: the fleet CA's certificate")
	hqKey := fs.String("hq-key", "", "install: head office's signing key (ed25519:...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: provision takes no arguments", errUsage)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *data != "" {
		cfg.Data = *data
	}
	dir := identity.KeyDir(cfg.Data)
	if *cert != "" || *ca != "" || *hqKey != "" {
		read := func(p string) ([]byte, error) {
			if p == "" {
				return nil, nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("provision: %w", err)
			}
			return b, nil
		}
		c, err := read(*cert)
		if err != nil {
			return err
		}
		a, err := read(*ca)
		if err != nil {
			return err
		}
		if err := identity.Install(dir, c, a, *hqKey); err != nil {
			return err
		}
		id, err := identity.Load(dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "installed in %s\ndevice key    %s\nTLS identity  %s\nHQ key        %s\n",
			dir, id.PublicKey, yesNo(id.TLS != nil, identity.Name(cfg.Store, cfg.Till), "not installed"),
			yesNo(id.HQKey != nil, "installed: catalogs and commands must be signed", "not installed"))
		return nil
	}
	p, err := identity.Provision(dir, cfg.Store, cfg.Till, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `till %s provisioned in %s
device public key: %s
certificate request: %s

at head office:
  tillhq register --keys KEYS %s %s %s
  tillhq ca sign --ca CA %s > tls.crt
then on this till:
  tillbox provision --cert tls.crt --ca ca.crt --hq-key "$(cat CA/hq.pub)"
`, identity.Name(cfg.Store, cfg.Till), dir, p.PublicKey, p.CSR, cfg.Store, cfg.Till, p.PublicKey, p.CSR)
	return nil
}

func yesNo(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
