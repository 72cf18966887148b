package redistest

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// ping sends PING on conn and waits up to wait for the answer.
func ping(conn net.Conn, r *bufio.Reader, wait time.Duration) error {
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	_, err := r.ReadString('\n')
	return err
}

func TestProxyFaults(t *testing.T) {
	srv := Start(t)
	p := StartProxy(t, srv.Addr)
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if err := ping(conn, r, 5*time.Second); err != nil {
		t.Fatalf("PING through the proxy: %v", err)
	}
	if p.Dials() != 1 {
		t.Fatalf("Dials = %d, want 1", p.Dials())
	}

	p.Latency(50 * time.Millisecond)
	start := time.Now()
	if err := ping(conn, r, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt < 100*time.Millisecond {
		t.Fatalf("PING took %v with 50 ms added each way; want at least 100 ms", rtt)
	}

	p.Blackhole()
	if err := ping(conn, r, 200*time.Millisecond); err == nil {
		t.Fatal("PING answered through a blackhole")
	}
	p.Heal() // the held PING and its answer go through now
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("after Heal, the held PING's answer: %q, %v", line, err)
	}

	p.Reset()
	if err := ping(conn, r, 5*time.Second); err == nil {
		t.Fatal("a reset connection still answers")
	}

	p.Refuse()
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a refusing proxy accepted a connection")
	}
	p.Heal()
	conn2, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatalf("dial after Heal: %v", err)
	}
	defer conn2.Close()
	if err := ping(conn2, bufio.NewReader(conn2), 5*time.Second); err != nil {
		t.Fatalf("PING after Heal: %v", err)
	}
	if p.Dials() != 2 {
		t.Fatalf("Dials = %d, want 2 (the refused one is not counted)", p.Dials())
	}
}
