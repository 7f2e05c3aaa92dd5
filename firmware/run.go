package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"tillbox/firmware/app"
	"tillbox/firmware/config"
	"tillbox/firmware/starttrace"
	"tillbox/firmware/techpage"
	"tillbox/ledger/journal"
)

// runCmd is the till's main job. On a terminal with the sim board it shows the simulator's
// screen and takes keys; with --script it is driven by a file or pipe instead.
func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded defaults)")
	data := fs.String("data", "", "data directory (overrides the config's)")
	boardName := fs.String("board", "", "board profile (overrides the config's)")
	script := fs.String("script", "", "drive the sim board from this file, or - for standard input")
	events := fs.String("events", "", "write a JSON line per till event to this file (- for standard output)")
	layout := fs.String("layout", "", "the box's slot layout file, for the fleet's update command (default: the init's)")
	logPath := fs.String("log", "", "structured log file (default: standard error, or DATA/tillbox.log under the screen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if gated, err := waitStartGate(); err != nil {
		return err
	} else if gated {
		starttrace.Mark("waited for the init's go")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	starttrace.Mark("config loaded")
	if *data != "" {
		cfg.Data = *data
	}
	if *boardName != "" {
		cfg.Board = *boardName
	}
	o := app.Options{Config: cfg, Version: version, Layout: *layout, ScriptOut: stdout,
		Slot: techpage.ReadBoot(*layout).Booted}
	if n, _ := strconv.Atoi(os.Getenv("TILLBOX_FAULT_KILL_AFTER_COMMIT")); n > 0 {
		// Fault injection for the tests: die by SIGKILL after the n-th committed document,
		// before it is printed, the drawer opens or the display changes.
		commits := 0
		o.AfterCommit = func(journal.Entry) {
			if commits++; commits >= n {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}

	switch *script {
	case "":
	case "-":
		o.Script = os.Stdin
	default:
		f, err := os.Open(*script)
		if err != nil {
			return fmt.Errorf("script: %w", err)
		}
		defer f.Close()
		o.Script = f
	}
	switch *events {
	case "":
	case "-":
		o.Events = stdout
	default:
		f, err := os.OpenFile(*events, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		defer f.Close()
		o.Events = f
	}
	interactive := o.Script == nil && cfg.Board == "sim" && isTerminal(os.Stdin)
	logW := io.Writer(stderr)
	if *logPath == "" && interactive {
		*logPath = filepath.Join(cfg.Data, "tillbox.log")
	}
	if *logPath != "" {
		if err := os.MkdirAll(filepath.Dir(*logPath), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("log: %w", err)
		}
		defer f.Close()
		logW = f
	}
	o.Logger = slog.New(slog.NewTextHandler(logW, nil))
	starttrace.Mark("options, log and events opened")
	defer startTechpage(cfg, &o)()
	starttrace.Mark("technician page prepared")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGUSR1: the stage-1 init confirmed this slot's try; journal it now.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	decided := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-usr1:
				select {
				case decided <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	o.UpdateDecided = decided
	if interactive {
		restore, err := rawTerminal(os.Stdin)
		if err != nil {
			return err
		}
		defer func() {
			restore()
			fmt.Fprint(stdout, "\x1b[0m\r\n")
		}()
		o.Screen, o.Input = stdout, os.Stdin
	}
	if cfg.Uplink.Embedded {
		h, url, err := startEmbeddedHQ(cfg, o.Logger)
		if err != nil {
			return err
		}
		defer h.close()
		o.Broker = url
	}
	return app.Run(ctx, o)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// rawTerminal puts the terminal in raw mode (keys one at a time, no echo) and returns how
// to put it back.
func rawTerminal(f *os.File) (func(), error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	t := *old
	t.Iflag &^= unix.ICRNL | unix.IXON | unix.ISTRIP | unix.INLCR | unix.IGNCR
	t.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
