package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a child the harness started: the Connect JVM, Tidemark, or a
// Kafka tool. Each runs in its own process group (so a Ctrl-C in the terminal
// reaches only the harness, which then stops its children in order) with a
// parent-death signal (so a harness killed hard takes them along).
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// children tracks every process still running, so that stopAll can end
// them on any exit path of the harness (error, signal, panic in main).
var children struct {
	sync.Mutex
	m map[*process]struct{}
}

// startProcess runs argv with its output appended to logPath.
func startProcess(name, logPath string, env []string, argv ...string) (*process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	children.Lock()
	if children.m == nil {
		children.m = map[*process]struct{}{}
	}
	children.m[p] = struct{}{}
	children.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		children.Lock()
		delete(children.m, p)
		children.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		if p.waitErr == nil {
			// Both daemons exit 0 only after SIGINT/SIGTERM: a signal from
			// something other than this harness.
			return true, fmt.Errorf("%s (pid %d) exited with status 0, as after a SIGTERM the harness did not send; see %s", p.name, p.pid(), p.logPath)
		}
		return true, fmt.Errorf("%s exited: %v; see %s", p.name, p.waitErr, p.logPath)
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group and waits up to grace for the
// process to exit, then SIGKILLs the group. Connect and Tidemark both commit
// their position on SIGTERM, which the drain scenario relies on.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", p.name, p.pid(), grace)
}

// wait blocks until the process exits or ctx ends.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopAll ends every child still running; the harness defers it in main.
func stopAll() {
	children.Lock()
	ps := make([]*process, 0, len(children.m))
	for p := range children.m {
		ps = append(ps, p)
	}
	children.Unlock()
	for _, p := range ps {
		_ = p.stop(20 * time.Second)
	}
}

// procStats is what /proc says about one process at one moment.
type procStats struct {
	CPUSeconds float64 // utime+stime
	HWMBytes   int64   // VmHWM: peak resident set size
	RSSBytes   int64   // VmRSS now
}

// clockTicks is USER_HZ, 100 on every Linux the harness runs on (the kernel
// exports times in /proc/<pid>/stat in these units whatever CONFIG_HZ is).
const clockTicks = 100

func readProcStats(pid int) (procStats, error) {
	var s procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	cpu, err := parseStatCPU(string(stat))
	if err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	s.CPUSeconds = cpu
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.HWMBytes = statusKB(string(status), "VmHWM:") * 1024
	s.RSSBytes = statusKB(string(status), "VmRSS:") * 1024
	return s, nil
}

// parseStatCPU returns utime+stime in seconds. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command field")
	}
	f := strings.Fields(stat[i+1:])
	// After ')': state(3) ppid(4) ... utime(14) stime(15), so utime is f[11].
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q stime %q", f[11], f[12])
	}
	return float64(ut+st) / clockTicks, nil
}

func statusKB(status, key string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line[len(key):])
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
