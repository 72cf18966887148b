package redistest

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) {
	s := Start(t)
	if err := Ping(s.Addr); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	if c, err := net.Dial("unix", s.Socket); err != nil {
		t.Errorf("unix socket: %v", err)
	} else {
		c.Close()
	}
	s.Pause(t)
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		t.Fatalf("paused server should still accept connections: %v", err)
	}
	conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
	conn.Write([]byte("PING\r\n"))
	if _, err := conn.Read(make([]byte, 16)); err == nil {
		t.Error("paused server answered")
	}
	conn.Close()
	s.Resume(t)
	if err := Ping(s.Addr); err != nil {
		t.Fatalf("resumed server: %v", err)
	}
	s.Stop()
	if Ping(s.Addr) == nil {
		t.Fatal("stopped server still answers")
	}
	s.Stop() // twice is fine
	s.Restart(t)
	if err := Ping(s.Addr); err != nil {
		t.Fatalf("restarted server on the same address: %v", err)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartServer()
	if err == nil {
		t.Fatal("started without redis-server on the PATH")
	}
	t.Log(err)
}

// A cluster starts with the roles asked for, and a key written to it is
// copied to exactly one replica.
func TestStartCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3, 1)
	if len(c.Addrs()) != 3 || len(c.Replicas) != 3 {
		t.Fatalf("cluster of %d primaries and %d replicas", len(c.Addrs()), len(c.Replicas))
	}
	if _, err := exec.Command("redis-cli", "-c", "-p", strings.Split(c.Addrs()[0], ":")[1], "SET", "k", "v").Output(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, r := c.DBSize(t)
		if sum(p) == 1 && sum(r) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key counts: primaries %v, replicas %v; want one key on one primary and its replica", p, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sum(ns []int) (total int) {
	for _, n := range ns {
		total += n
	}
	return total
}

// A Sentinel setup with passwords starts with its primary named by every
// sentinel, and a failover promotes the replica.
func TestStartSentinel(t *testing.T) {
	t.Parallel()
	st := StartSentinel(t, SentinelOptions{Password: "data-pw", SentinelPassword: "sentinel-pw"})
	if p := st.Primary(t, nil); p != st.Servers[0] {
		t.Fatalf("primary at start: %s, want %s", p.Addr, st.Servers[0].Addr)
	}
	if _, err := st.Sentinels[0].cli("PING"); err != nil {
		t.Fatalf("PING with the sentinel's password: %v", err)
	}
	if out, _ := exec.Command("redis-cli", "-p", strings.Split(st.Sentinels[0].Addr, ":")[1], "PING").Output(); !strings.Contains(string(out), "NOAUTH") {
		t.Errorf("a sentinel answered PING without its password: %q", out)
	}
	if p := st.Failover(t); p != st.Servers[1] {
		t.Fatalf("primary after the failover: %s, want %s", p.Addr, st.Servers[1].Addr)
	}
}
