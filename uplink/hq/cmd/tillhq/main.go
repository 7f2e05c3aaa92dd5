package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// command is one subcommand: it parses its flags from args and does its work.
type command func(ctx context.Context, e *env, args []string) error

var commands = map[string]command{
	"serve":      serve,
	"migrate":    migrate,
	"import":     importFiles,
	"receipt":    receipt,
	"tills":      tills,
	"check":      check,
	"quarantine": quarantine,
	"fleet":      fleet,
	"events":     events,
	"review":     review,
	"passwd":     passwd,
	"ca":         caCmd,
	"register":   register,
	"acl":        acl,
	"cmd":        cmdCmd,
	"catalog":    catalogCmd,
	"release":    releaseCmd,
	"rollout":    rolloutCmd,
	"group":      groupCmd,
	"projection": projection,
}

// env is where a command writes.
type env struct {
	stdout, stderr io.Writer
}

// usageError is a command line that cannot be run: exit status 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// errFlags marks flags the flag package refused; it has printed why.
var errFlags = errors.New("bad flags")

// run is tillhq with its arguments (without the program name). It returns the exit
// status: 0 done, 1 failed, 2 a command line that cannot be run.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr}
	switch args[0] {
	case "version":
		fmt.Fprintln(stdout, "tillhq", version)
		return 0
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tillhq: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd(ctx, e, args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "tillhq:", err)
		return 2
	}
	fmt.Fprintln(stderr, "tillhq:", err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: tillhq COMMAND [flags]
  serve       consume tills' transactions and acknowledge them (in-process broker when --broker is empty)
  migrate     create or upgrade the PostgreSQL schema
  import      ingest exported JSON Lines files (idempotent)
  receipt     look up a receipt by the till's number or the central number
  tills       list tills and their acknowledged watermark (--json)
  check       verify every till's stored chain up to its watermark (--json)
  quarantine  list what was not stored, and why (--json)
  fleet       list every till's retained status from the broker (--store, --state, --attention, --watch, --inventory)
  events      the event history HQ keeps (--till, --kind, --since, --until, --json)
  review      the stock documents beyond their order, to verify (list, resolve RECEIPT)
  passwd      print a credentials line for the dashboard (serve --dashboard-auth)
  ca          the fleet CA: init, sign a till's request, account, server, revoke, crl
  register    record a till's device key (entries must be signed with it)
  acl         print the broker's ACL: the shipped one and each till's catalog grant
  cmd         send a signed command to a till and print its result
  catalog     publish a store's catalog, signed and retained
  release     add a signed firmware bundle for the fleet, list the releases
  group       put a till in a group (set STORE/TILL GROUP), tag it (tag STORE/TILL TAG...), list them
  rollout     create a staged rollout of a release; status, pause, resume, abort
  projection  rebuild the PostgreSQL relational projection from the stored entries
  version     print the version
tillhq COMMAND --help lists the command's flags.`)
}

// flagSet is a flag set for a command that reports its errors instead of exiting.
func (e *env) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("tillhq "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse parses args into fs; the error is errFlags (flag has said why) or flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errFlags
	}
	return nil
}

// nargs is a usage error unless fs has between lo and hi arguments left.
func nargs(fs *flag.FlagSet, lo, hi int, want string) error {
	if n := fs.NArg(); n < lo || n > hi {
		return usageError{name(fs) + ": " + want}
	}
	return nil
}

// name is the command fs parses for, as errors name it.
func name(fs *flag.FlagSet) string { return strings.TrimPrefix(fs.Name(), "tillhq ") }

// common are the flags every command that reaches the store or the broker shares.
type common struct {
	fs                     *flag.FlagSet
	store                  string
	broker, prefix         string
	username, password     string
	tlsCA, tlsCert, tlsKey string
	keys                   string
	signKey                string
}

func (e *env) flags(name string) *common {
	c := &common{fs: e.flagSet(name)}
	c.fs.StringVar(&c.store, "store", envOr("TILLHQ_STORE", "tillhq.db"), "postgres:// URL or bbolt file path")
	c.fs.StringVar(&c.broker, "broker", os.Getenv("TILLHQ_BROKER"), "MQTT broker URL, e.g. tcp://127.0.0.1:1883")
	c.fs.StringVar(&c.prefix, "prefix", wire.DefaultPrefix, "topic prefix")
	c.fs.StringVar(&c.username, "username", os.Getenv("TILLHQ_USERNAME"), "MQTT username")
	c.fs.StringVar(&c.password, "password", os.Getenv("TILLHQ_PASSWORD"), "MQTT password")
	c.fs.StringVar(&c.tlsCA, "tls-ca", os.Getenv("TILLHQ_TLS_CA"), "fleet CA certificate: the broker's must chain to it (ssl:// brokers)")
	c.fs.StringVar(&c.tlsCert, "tls-cert", os.Getenv("TILLHQ_TLS_CERT"), "HQ's client certificate (tillhq ca account tillhq)")
	c.fs.StringVar(&c.tlsKey, "tls-key", os.Getenv("TILLHQ_TLS_KEY"), "its key")
	c.fs.StringVar(&c.keys, "keys", os.Getenv("TILLHQ_KEYS"), "device key registry (tillhq register): store only entries signed by their till")
	c.fs.StringVar(&c.signKey, "sign-key", os.Getenv("TILLHQ_SIGN_KEY"), "HQ's signing key (CA/hq-sign.key): signs acks, commands and catalogs; empty sends them unsigned")
	return c
}

// parse parses args, and then checks that between lo and hi arguments are left.
func (c *common) parse(args []string, lo, hi int, want string) error {
	if err := parse(c.fs, args); err != nil {
		return err
	}
	return nargs(c.fs, lo, hi, want)
}

// tls is the client TLS configuration from the flags, or nil when none is given.
func (c *common) tls() (*tls.Config, error) {
	if c.tlsCert == "" && c.tlsCA == "" {
		return nil, nil
	}
	if c.tlsCert == "" || c.tlsKey == "" || c.tlsCA == "" {
		return nil, usageError{"--tls-ca, --tls-cert and --tls-key go together"}
	}
	return identity.ClientTLS(c.tlsCert, c.tlsKey, c.tlsCA)
}

// keyRing is the device key registry from --keys, or nil.
func (c *common) keyRing() hq.Keys {
	if c.keys == "" {
		return nil
	}
	return &hq.KeyDir{Dir: c.keys}
}

// signingKey is HQ's signing key from --sign-key, or nil when none is given.
func (c *common) signingKey() (ed25519.PrivateKey, error) {
	if c.signKey == "" {
		return nil, nil
	}
	return identity.ReadSigningKey(c.signKey)
}

// options are HQ's options the flags give. With needBroker, --broker must be set.
func (c *common) options(needBroker bool) (hq.Options, error) {
	if needBroker && c.broker == "" {
		return hq.Options{}, usageError{name(c.fs) + ": --broker is required"}
	}
	t, err := c.tls()
	if err != nil {
		return hq.Options{}, err
	}
	key, err := c.signingKey()
	if err != nil {
		return hq.Options{}, err
	}
	return hq.Options{Broker: c.broker, Prefix: c.prefix, Username: c.username, Password: c.password, TLS: t,
		Keys: c.keyRing(), SignKey: key}, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
