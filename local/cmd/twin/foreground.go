package main

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// takeTerminal makes the twin the terminal's foreground process group when
// `make local` runs it on a terminal (GATEHOUSE_TWIN_FOREGROUND=1). Ctrl-C
// then reaches the twin alone, which stops everything and exits 0, so make
// returns 0 too; without it, make also gets the SIGINT and reports an
// interrupt (exit 130), as it does for any recipe. This is what a shell
// does for a job it runs in the foreground. The returned function gives the
// terminal back to the group that had it.
func takeTerminal() (restore func()) {
	noop := func() {}
	if os.Getenv("GATEHOUSE_TWIN_FOREGROUND") != "1" {
		return noop
	}
	fd := int(os.Stdin.Fd())
	orig, err := tcgetpgrp(fd)
	if err != nil {
		return noop // not a terminal: nothing to take
	}
	if err := syscall.Setpgid(0, 0); err != nil {
		return noop
	}
	// A process outside the foreground group gets SIGTTOU when it sets the
	// foreground group, unless it ignores that signal.
	signal.Ignore(syscall.SIGTTOU)
	if err := tcsetpgrp(fd, syscall.Getpgrp()); err != nil {
		return noop
	}
	return func() { _ = tcsetpgrp(fd, orig) }
}

func tcgetpgrp(fd int) (int, error) {
	var pgid int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uintptr(syscall.TIOCGPGRP), uintptr(unsafe.Pointer(&pgid))); e != 0 {
		return 0, e
	}
	return int(pgid), nil
}

func tcsetpgrp(fd, pgid int) error {
	p := int32(pgid)
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uintptr(syscall.TIOCSPGRP), uintptr(unsafe.Pointer(&p))); e != 0 {
		return e
	}
	return nil
}
