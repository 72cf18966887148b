// Package redistest starts private redis-server processes for tests, on free
// loopback ports, so that tests never touch data they did not create.
//
// A test run with no redis-server on the PATH fails with a message saying
// how to get one; it never skips. Set TEST_REDIS_URL to run the shared tests
// against an existing server instead (tests only touch keys under their own
// random namespaces); tests that stop and restart a server always use a
// private one.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvURL names the variable that points the shared tests at an existing
// server.
const EnvURL = "TEST_REDIS_URL"

// startTimeout bounds how long a new server may take to answer PING.
const startTimeout = 15 * time.Second

// Server is a redis-server process owned by a test.
type Server struct {
	Addr    string // "127.0.0.1:PORT"
	Socket  string // path of its unix socket
	TLSAddr string // "127.0.0.1:PORT" of its TLS listener, for servers from StartTLS
	dir     string
	args    []string // extra redis-server arguments
	conf    string   // for a Sentinel: its configuration file, which it rewrites
	auth    string   // the password cli sends (its requirepass), or ""

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd  // nil while stopped
}

// Start starts a private server and stops it, removing its files, when tb
// ends; args are extra redis-server arguments ("--requirepass", "pw"). It
// fails tb, with instructions, if no server can be started.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, err := startServer(func(s *Server) error {
		s.args = args
		for i, a := range args[:max(len(args)-1, 0)] {
			if a == "--requirepass" {
				s.auth = args[i+1] // for CLI
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartServer starts a private server; the caller must Stop it. It is for
// TestMain, where there is no testing.TB.
func StartServer() (*Server, error) {
	return startServer(nil)
}

// startServer starts a server; configure, if not nil, is called with the
// server before each start attempt to add arguments.
func startServer(configure func(*Server) error) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redistest: redis-server is not on the PATH. " +
			"Install it (Debian/Ubuntu: apt-get install redis-server), or run ./scripts/test.sh, " +
			"which installs it, or set " + EnvURL + "=redis://HOST:PORT/DB to use a server you already run")
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ { // a free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Socket: filepath.Join(dir, "redis.sock"), dir: dir}
		if configure != nil {
			if err := configure(s); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		if lastErr = s.start(bin); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// URL returns the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// start runs redis-server on s.Addr and waits until it answers PING.
func (s *Server) start(bin string) error {
	_, port, _ := net.SplitHostPort(s.Addr)
	var first []string
	if s.conf != "" {
		first = []string{s.conf, "--sentinel"}
	}
	cmd := exec.Command(bin, append(first,
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--daemonize", "no", "--loglevel", "warning", "--logfile", filepath.Join(s.dir, "redis.log"))...)
	cmd.Args = append(cmd.Args, s.args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redistest: redis-server on %s exited at start (%v); log: %s", s.Addr, err, s.logTail())
		default:
		}
		if Ping(s.Addr) == nil {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			go func() { <-exited }() // reap when it ends
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redistest: redis-server on %s did not answer PING within %v; log: %s", s.Addr, startTimeout, s.logTail())
}

// Stop kills the server (SIGKILL: no shutdown save, like a crash) and waits
// until its port is closed. Stop is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	for i := 0; i < 500 && Ping(s.Addr) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts the server again on the same address, empty.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		err = s.start(bin)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing is
// answered, as with a server stuck in a long command or a network that
// drops packets. Resume undoes it; Stop works on a paused server.
func (s *Server) Pause(tb testing.TB) { s.signal(tb, syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume(tb testing.TB) { s.signal(tb, syscall.SIGCONT) }

func (s *Server) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		tb.Fatalf("redistest: server on %s is not running", s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("redistest: %v to server on %s: %v", sig, s.Addr, err)
	}
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.dir)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Ping sends one PING to addr and checks that a Redis server answers.
func Ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	// A server that requires a password answers NOAUTH: it is up.
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("redistest: unexpected PING answer %q", line)
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Shared returns the URL of the server for a package's tests and a function
// that releases it: the server in TEST_REDIS_URL if set, else a private one.
func Shared() (url string, release func(), err error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, func() {}, nil
	}
	s, err := StartServer()
	if err != nil {
		return "", nil, err
	}
	return s.URL(), s.Close, nil
}
