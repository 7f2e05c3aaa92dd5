package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // the configured timezone works on a box without a zoneinfo database

	"tillbox/firmware/app"
	"tillbox/firmware/starttrace"
	"tillbox/image/update"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks a command line that could not be understood; main exits 2 for it.
var errUsage = errors.New("usage")

func main() {
	starttrace.Mark("runtime and package initialisers")
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

func mainExit(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, app.ErrRebootForUpdate):
		fmt.Fprintln(stderr, "tillbox:", err)
		return update.ExitRebootForTry
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "tillbox:", err)
		}
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "tillbox:", err)
		return 1
	}
}

const usage = `usage:
  tillbox run [--data DIR] [--config FILE]          the till's main job
  tillbox selftest [--config FILE] [--board NAME]   test page, display and drawer test
  tillbox ledger verify|export|stats [--data DIR | --ledger FILE] [--json]
  tillbox receipts [--data DIR] [--n N] [--json] [RECEIPT]   recent receipts and their sync status
  tillbox update [--retry] FILE                      install a signed bundle for one try at the next boot
  tillbox provision [--data DIR] [--cert FILE --ca FILE --hq-key KEY]   this till's keys for head office
  tillbox techpage token [--data DIR] [--new] [--url]  the technician page's token for this box
  tillbox version
`

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command", errUsage)
	}
	switch args[0] {
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "tillbox %s\n", version)
		return nil
	case "ledger":
		return ledgerCmd(args[1:], stdout)
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "receipts":
		return receiptsCmd(args[1:], stdout)
	case "selftest":
		return selftestCmd(args[1:], stdout)
	case "update":
		return updateCmd(args[1:], stdout)
	case "provision":
		return provisionCmd(args[1:], stdout)
	case "techpage":
		return techpageCmd(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}
