package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SentinelOptions shapes a Sentinel setup; the zero value is one primary,
// one replica and three sentinels, without passwords.
type SentinelOptions struct {
	Replicas  int // replicas of the primary; if zero, 1
	Sentinels int // sentinels watching it; if zero, 3 (a quorum of 2)

	// Password, if set, is the requirepass (and masterauth) of the data
	// servers; the sentinels are told it (sentinel auth-pass).
	Password string
	// SentinelPassword, if set, is the requirepass of the sentinels
	// themselves, which they also use among themselves (sentinel
	// sentinel-pass).
	SentinelPassword string
}

// Sentinel is a primary with replicas, watched by sentinels: private
// servers on loopback, failing over within a few seconds (a primary is
// taken for down after 1 s without an answer).
type Sentinel struct {
	Master    string    // the name of the master set: "primary"
	Servers   []*Server // the data servers; Servers[0] was the primary at creation
	Sentinels []*Server
}

// Sentinel timings: how long a primary may be silent before it is taken
// for down, and how long one failover may take before another is tried.
const (
	sentinelDownAfter       = 1000 // ms
	sentinelFailoverTimeout = 5000 // ms
)

// StartSentinel starts a primary, its replicas and the sentinels that watch
// it, and waits until the replicas are in sync and every sentinel knows the
// replicas and the other sentinels (so that a failover can be agreed on).
// Everything is stopped and removed when tb ends.
func StartSentinel(tb testing.TB, o SentinelOptions) *Sentinel {
	tb.Helper()
	setDefault := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDefault(&o.Replicas, 1)
	setDefault(&o.Sentinels, 3)
	var auth []string
	if o.Password != "" {
		auth = []string{"--requirepass", o.Password, "--masterauth", o.Password}
	}
	st := &Sentinel{Master: "primary"}
	primary := Start(tb, auth...)
	primary.auth = o.Password
	st.Servers = append(st.Servers, primary)
	host, port, _ := strings.Cut(primary.Addr, ":")
	for range o.Replicas {
		r := Start(tb, append([]string{"--replicaof", host, port}, auth...)...)
		r.auth = o.Password
		st.Servers = append(st.Servers, r)
	}
	deadline := time.Now().Add(clusterTimeout)
	for _, r := range st.Servers[1:] {
		for !r.inSync() {
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: replica %s not in sync with %s within %v", r.Addr, primary.Addr, clusterTimeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	conf := fmt.Sprintf("sentinel monitor %s %s %s %d\n", st.Master, host, port, o.Sentinels/2+1) +
		fmt.Sprintf("sentinel down-after-milliseconds %s %d\n", st.Master, sentinelDownAfter) +
		fmt.Sprintf("sentinel failover-timeout %s %d\n", st.Master, sentinelFailoverTimeout)
	if o.Password != "" {
		conf += fmt.Sprintf("sentinel auth-pass %s %s\n", st.Master, o.Password)
	}
	if o.SentinelPassword != "" {
		conf += fmt.Sprintf("requirepass %s\nsentinel sentinel-pass %s\n", o.SentinelPassword, o.SentinelPassword)
	}
	for range o.Sentinels {
		s, err := startServer(func(s *Server) error {
			s.conf = filepath.Join(s.dir, "sentinel.conf")
			s.auth = o.SentinelPassword
			return os.WriteFile(s.conf, []byte(conf), 0o600)
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(s.Close)
		st.Sentinels = append(st.Sentinels, s)
	}
	for _, s := range st.Sentinels {
		for {
			replicas, err1 := s.cli("SENTINEL", "REPLICAS", st.Master)
			peers, err2 := s.cli("SENTINEL", "SENTINELS", st.Master)
			if err1 == nil && err2 == nil && strings.Count(replicas, "\nip\n") == o.Replicas &&
				strings.Count(peers, "\nip\n") == o.Sentinels-1 {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: sentinel %s does not know the setup within %v: replicas %q, sentinels %q (%v %v)",
					s.Addr, clusterTimeout, replicas, peers, err1, err2)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return st
}

// Addrs returns the sentinels' addresses.
func (st *Sentinel) Addrs() []string {
	out := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		out[i] = s.Addr
	}
	return out
}

// Primary returns the data server every sentinel names as the primary, once
// that server answers ROLE as one, waiting for it up to 30 s; not, if
// given, is not taken (the primary before a failover).
func (st *Sentinel) Primary(tb testing.TB, not *Server) *Server {
	tb.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		if p := st.agreedPrimary(); p != nil && p != not {
			if role, err := p.cli("ROLE"); err == nil && strings.HasPrefix(role, "master\n") {
				return p
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: the sentinels agree on no primary (other than %v) within %v", not, clusterTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agreedPrimary returns the data server every sentinel names, or nil.
func (st *Sentinel) agreedPrimary() *Server {
	var addr string
	for _, s := range st.Sentinels {
		if !s.running() {
			continue // stopped by the test
		}
		out, err := s.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", st.Master)
		f := strings.Fields(out)
		if err != nil || len(f) != 2 {
			return nil
		}
		a := f[0] + ":" + f[1]
		if addr != "" && a != addr {
			return nil
		}
		addr = a
	}
	for _, s := range st.Servers {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

// Failover asks a sentinel to fail over now (SENTINEL FAILOVER: a replica
// is promoted without the primary's agreement, as after its loss) and
// returns the new primary once every sentinel names it and it answers as
// a primary.
func (st *Sentinel) Failover(tb testing.TB) *Server {
	tb.Helper()
	old := st.Primary(tb, nil)
	if out, err := st.Sentinels[0].cli("SENTINEL", "FAILOVER", st.Master); err != nil || !strings.HasPrefix(out, "OK") {
		tb.Fatalf("redistest: SENTINEL FAILOVER %s: %v %s", st.Master, err, out)
	}
	return st.Primary(tb, old)
}

// running reports whether the server runs (it was not stopped).
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}
