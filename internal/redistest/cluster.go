package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of private servers on loopback.
type Cluster struct {
	Primaries []*Server // the nodes that own the slots, as created
	Replicas  []*Server // one or more per primary, as created
}

// clusterTimeout bounds how long a new cluster may take to settle.
const clusterTimeout = 30 * time.Second

// clusterNodeTimeout is each node's cluster-node-timeout, in milliseconds:
// how long a primary may be silent before its replica takes over (which
// then takes up to about twice as long again).
const clusterNodeTimeout = 1000

// StartCluster starts primaries × (1 + replicas) servers in cluster mode,
// joins them with redis-cli --cluster create, and waits until every node
// reports the cluster ok and every replica is in sync with its primary. The
// servers are stopped and removed when tb ends.
func StartCluster(tb testing.TB, primaries, replicas int) *Cluster {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatal("redistest: redis-cli is not on the PATH; install it with redis-server (Debian/Ubuntu: apt-get install redis-server)")
	}
	n := primaries * (1 + replicas)
	nodes := make([]*Server, n)
	args := []string{"--cluster", "create"}
	for i := range nodes {
		bus, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		nodes[i] = Start(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeout), "--cluster-port", strconv.Itoa(bus))
		args = append(args, nodes[i].Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c := &Cluster{}
	deadline := time.Now().Add(clusterTimeout)
	for _, s := range nodes {
		for {
			info, err := s.cli("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: node %s did not report cluster_state:ok within %v: %v %s", s.Addr, clusterTimeout, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, s := range nodes {
		role, err := s.cli("ROLE")
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasPrefix(role, "master\n") {
			c.Primaries = append(c.Primaries, s)
			continue
		}
		c.Replicas = append(c.Replicas, s)
		for !s.inSync() {
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: replica %s not in sync within %v", s.Addr, clusterTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(c.Primaries) != primaries || len(c.Replicas) != primaries*replicas {
		tb.Fatalf("redistest: cluster has %d primaries and %d replicas, want %d and %d",
			len(c.Primaries), len(c.Replicas), primaries, primaries*replicas)
	}
	return c
}

// Addrs returns the addresses of the primaries, to seed a client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Primaries))
	for i, s := range c.Primaries {
		out[i] = s.Addr
	}
	return out
}

// DBSize returns the number of keys each server holds, primaries first.
func (c *Cluster) DBSize(tb testing.TB) (primaries, replicas []int) {
	tb.Helper()
	size := func(s *Server) int {
		out, err := s.cli("DBSIZE")
		if err != nil {
			tb.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			tb.Fatalf("redistest: DBSIZE of %s: %q", s.Addr, out)
		}
		return n
	}
	for _, s := range c.Primaries {
		primaries = append(primaries, size(s))
	}
	for _, s := range c.Replicas {
		replicas = append(replicas, size(s))
	}
	return primaries, replicas
}

// inSync reports whether a replica's link to its primary is up.
func (s *Server) inSync() bool {
	info, err := s.cli("INFO", "replication")
	return err == nil && strings.Contains(info, "master_link_status:up")
}

// CLI runs one command on s with redis-cli (with the server's password,
// if it has one) and returns its raw output.
func (s *Server) CLI(args ...string) (string, error) { return s.cli(args...) }

// cli runs one command on s with redis-cli and returns its raw output.
func (s *Server) cli(args ...string) (string, error) {
	host, port, _ := strings.Cut(s.Addr, ":")
	cmd := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...)
	if s.auth != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+s.auth) // not -a, which would show it in ps
	}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("redistest: redis-cli %s on %s: %w", strings.Join(args, " "), s.Addr, err)
	}
	return string(out), nil
}

// Failover promotes the replica s with CLUSTER FAILOVER (its primary
// agrees, so no write is lost) and waits until it answers ROLE as a primary
// and every node reports the cluster ok. Primaries and Replicas keep the
// roles of creation.
func (c *Cluster) Failover(tb testing.TB, s *Server) {
	tb.Helper()
	if out, err := s.cli("CLUSTER", "FAILOVER"); err != nil || !strings.HasPrefix(out, "OK") {
		tb.Fatalf("redistest: CLUSTER FAILOVER on %s: %v %s", s.Addr, err, out)
	}
	c.WaitPrimary(tb, s)
}

// ReplicaOf returns a replica of the primary p.
func (c *Cluster) ReplicaOf(tb testing.TB, p *Server) *Server {
	tb.Helper()
	_, port, _ := strings.Cut(p.Addr, ":")
	for _, r := range append(append([]*Server(nil), c.Replicas...), c.Primaries...) {
		if role, err := r.cli("ROLE"); err == nil && strings.HasPrefix(role, "slave\n") &&
			strings.Contains(role, "\n"+port+"\n") {
			return r
		}
	}
	tb.Fatalf("redistest: no replica of %s", p.Addr)
	return nil
}

// WaitPrimary waits until s answers ROLE as a primary and every running
// node reports the cluster ok, up to 30 s: after CLUSTER FAILOVER, or once
// the cluster has promoted s in place of a primary that was stopped.
// Primaries and Replicas keep the roles of creation.
func (c *Cluster) WaitPrimary(tb testing.TB, s *Server) {
	tb.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		role, err := s.cli("ROLE")
		if err == nil && strings.HasPrefix(role, "master\n") {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: %s is not a primary %v after its promotion began", s.Addr, clusterTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range append(append([]*Server(nil), c.Primaries...), c.Replicas...) {
		for n.running() {
			info, err := n.cli("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: node %s not ok after the failover", n.Addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
