package cache_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// A Sentinel's own address given as a plain server is refused by New, with
// the way to configure Sentinel, instead of a cache whose every command
// fails later.
func TestSentinelAddressRefused(t *testing.T) {
	t.Parallel()
	primary := redistest.Start(t)
	addr := startSentinel(t, primary.Addr)
	_, err := cache.New(ctxT(t), cache.Config{URL: "redis://" + addr})
	if !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), "master_set") {
		t.Errorf("New on a Sentinel's address: %v; want ErrInvalidConfig saying how to give sentinels", err)
	}
}

// startSentinel starts a Sentinel watching the primary at primaryAddr and
// returns its address; it is stopped when t ends.
func startSentinel(t *testing.T, primaryAddr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host, primaryPort, _ := net.SplitHostPort(primaryAddr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m %s %s 1\n", port, dir, host, primaryPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a Sentinel (redis-server --sentinel): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); redistest.Ping(addr) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel at %s never answered", addr)
		}
	}
	return addr
}

// A cluster node's bus port (its cluster-port) given as a server's address
// is refused by New, not taken for an outage.
func TestClusterBusAddressRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bus := l.Addr().(*net.TCPAddr).Port
	l.Close()
	redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", fmt.Sprint(bus))
	addr := fmt.Sprintf("127.0.0.1:%d", bus)
	_, err = cache.New(ctxT(t), cache.Config{URL: "redis://" + addr})
	if !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), "bus port") {
		t.Errorf("New on a cluster bus port: %v; want ErrInvalidConfig naming the bus port", err)
	}
}
