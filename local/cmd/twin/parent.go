package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// fatalSignals is the mask of SIGHUP (1), SIGINT (2), SIGQUIT (3) and
// SIGTERM (15) as /proc/PID/status prints signal masks: bit n-1 for signal n.
const fatalSignals = 1<<0 | 1<<1 | 1<<2 | 1<<14

// watchParent returns a context that is cancelled when the process that
// started the twin dies, or when it is busy dying.
//
// The second case is make's: a signal sent to make's pid alone (kill -INT
// or -TERM <make pid>, not Ctrl-C, which reaches the whole process group) makes
// GNU make run its fatal-signal handler, which waits for its children to
// exit and never tells them. While that handler runs, the signal it handles
// is blocked in make, so the parent's blocked mask holding a fatal signal
// means "my parent is waiting for me to exit".
func watchParent(ctx context.Context, every time.Duration) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	ppid := os.Getppid()
	go func() {
		defer cancel()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if os.Getppid() != ppid || parentDying(ppid) {
				return
			}
		}
	}()
	return ctx
}

// parentDying reports whether pid blocks a fatal signal right now.
func parentDying(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true // gone
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&fatalSignals != 0
		}
	}
	return false
}
