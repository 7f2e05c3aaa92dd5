package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDiskFullFailsCleanly runs a till whose file-size limit (RLIMIT_FSIZE) stops the ledger
// growing, as a full data partition would. Append must fail with ErrDiskFull, every append
// that returned nil must survive, the file must verify, and the ledger must work again once
// there is room.
func TestDiskFullFailsCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	cmd := childCmd(t, "diskfull", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	var fullMsg string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 2)
		switch f[0] {
		case "seq":
			n, _ := strconv.ParseUint(f[1], 10, 64)
			seqs = append(seqs, n)
		case "full":
			fullMsg = f[1]
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if fullMsg == "" {
		t.Fatal("the child never hit the size limit")
	}
	if !strings.Contains(fullMsg, "ledger full") {
		t.Fatalf("disk-full error a till would show: %q", fullMsg)
	}
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil {
		t.Fatalf("verify after disk full: %v", err)
	}
	for _, s := range seqs {
		if _, err := l.Get(s); err != nil {
			t.Fatalf("seq %d reported committed is missing: %v", s, err)
		}
	}
	if rep.LastSeq != seqs[len(seqs)-1] {
		t.Fatalf("last seq %d, last reported %d: a failed append left something behind", rep.LastSeq, seqs[len(seqs)-1])
	}
}

func diskFullChild(path string) {
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "disk-full child: "+format+"\n", a...)
		os.Exit(2)
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit then fails with EFBIG
	l, err := Open(path, &Options{Store: "s042", Till: "t03", LockTimeout: 5 * time.Second})
	if err != nil {
		fail("%v", err)
	}
	report := func(seq uint64) { os.Stdout.WriteString("seq " + strconv.FormatUint(seq, 10) + "\n") }
	for i := 0; i < 5; i++ {
		r, err := l.Append(sale(time.Now(), 100))
		if err != nil {
			fail("append before the limit: %v", err)
		}
		report(r.Entry.Seq)
	}
	fi, err := os.Stat(path)
	if err != nil {
		fail("%v", err)
	}
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size()), Max: old.Max}); err != nil {
		fail("setrlimit: %v", err)
	}
	big := strings.Repeat("receipt text ", 5000) // ~64 KB: the file must grow
	var fullErr error
	for i := 0; i < 1000 && fullErr == nil; i++ {
		e := sale(time.Now(), 100)
		e.Reason = big
		r, err := l.Append(e)
		if err != nil {
			fullErr = err
			break
		}
		report(r.Entry.Seq)
	}
	if !errors.Is(fullErr, ErrDiskFull) {
		fail("want ErrDiskFull, got %v", fullErr)
	}
	os.Stdout.WriteString("full " + fullErr.Error() + "\n")
	// Still full: a second big append fails the same way, and nothing of it is visible.
	e := sale(time.Now(), 100)
	e.Reason = big
	if _, err := l.Append(e); !errors.Is(err, ErrDiskFull) {
		fail("second append on a full disk: %v", err)
	}
	if _, err := l.Verify(); err != nil {
		fail("verify while full: %v", err)
	}
	// Space is freed: the same ledger, still open, takes sales again.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		fail("restore rlimit: %v", err)
	}
	for i := 0; i < 3; i++ {
		r, err := l.Append(e)
		if err != nil {
			fail("append after space freed: %v", err)
		}
		report(r.Entry.Seq)
	}
	if err := l.Close(); err != nil {
		fail("%v", err)
	}
	os.Exit(0)
}
