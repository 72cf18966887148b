package redistest

import (
	"net"
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
