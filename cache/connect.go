package cache

// Connecting: building the client, checking the server, and telling an
// outage (wait, and connect in the background) from a misconfiguration
// (fail at New: waiting would not mend it).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

// misconfigured reports whether err, a failure to connect, comes from the
// configuration rather than from an outage: a certificate that does not
// verify, TLS spoken to a plain server. Waiting would not mend it, so New
// fails.
func misconfigured(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &header) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

// notRedis looks at err, a failure to connect that the server's side
// closed, for an address that accepts connections but does not speak
// Redis. One that answers PING in TLS (a TLS-only port given without
// rediss://) or with bytes that are not RESP is misconfigured: notRedis
// returns an ErrInvalidConfig error naming it, and bad. One that accepts
// and closes without a word may be a cluster node's bus port (its
// cluster-port), but also a proxy or a service-mesh sidecar (Envoy,
// Istio) whose Redis is down: an outage, so err is returned with that
// hint, for the log and Health, and New starts without Redis. Any other
// err is returned as it is.
func notRedis(err error, addrs []string) (_ error, bad bool) {
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		return err, false
	}
	cause := err
	if e, ok := err.(*Error); ok && e.Cause != nil { // connect's: its cause, not its hint
		cause = e.Cause
	}
	for _, addr := range addrs {
		switch why, silent := speaksRedis(addr); {
		case why == "":
		case silent:
			return &Error{Op: OpConnect, Key: addr, Class: ErrUnavailable, Cause: fmt.Errorf("%w: %s %s", cause, addr, why),
				Hint: "a proxy or sidecar whose Redis is down? or not a Redis server's data port: a cluster node's bus port, its cluster-port, or a TLS port, for which use rediss://?"}, false
		case strings.Contains(why, "TLS"):
			return &Error{Op: OpConnect, Key: addr, Class: ErrInvalidConfig, Cause: fmt.Errorf("%s %s: it is a TLS port", addr, why),
				Hint: "use rediss://; with a private CA, set Config.TLSConfig"}, true
		default:
			return &Error{Op: OpConnect, Key: addr, Class: ErrInvalidConfig, Cause: fmt.Errorf("%s %s: it is not a Redis server's data port", addr, why),
				Hint: "a cluster node's bus port? another service?"}, true
		}
	}
	return err, false
}

// speaksRedis sends PING twice to addr (12 bytes: more than a cluster bus
// reads before it checks its header) and says what is wrong with the
// answer: "" for a RESP answer, or when there is no telling (no connection,
// no answer within a second); silent when it closed without a word.
func speaksRedis(addr string) (why string, silent bool) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\nPING\r\n")); err != nil {
		return "", false
	}
	var b [1]byte
	_, err = conn.Read(b[:])
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "", false
	case err != nil && speaksTLS(addr):
		return "closed a plain connection, and completes a TLS handshake", false
	case err != nil:
		return "accepted a connection and closed it without answering PING", true
	case b[0] == 0x15 || b[0] == 0x16: // a TLS alert or handshake record
		return "answered PING in TLS", false
	case !strings.ContainsRune("+-:$*_,#!=(%~>|", rune(b[0])):
		return fmt.Sprintf("answered PING with byte %#x, not RESP", b[0]), false
	}
	return "", false
}

// speaksTLS reports whether addr completes a TLS handshake within a
// second: Redis' TLS port closes a plain connection without a word, as a
// sidecar whose Redis is down does, but only the TLS port shakes hands.
// The certificate is not verified: nothing is sent over the connection,
// which only tells the protocol.
func speaksTLS(addr string) bool {
	d := &net.Dialer{Timeout: time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a protocol probe: no data is sent
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// connect builds the client and checks the server: with client tracking
// for the near cache when the configuration wants it and the server has
// it, without it otherwise. On success the client is installed (c.redis.client);
// on failure it is closed.
func (c *RedisCache) connect(ctx context.Context) error {
	r := &c.cfg
	build := r.ClientBuilder
	if build == nil {
		build = rueidis.NewClient
	}
	opt := r.client
	if n := c.near.Load(); n != nil {
		opt.OnInvalidations = n.OnInvalidations
		if user := r.client.OnInvalidations; user != nil {
			opt.OnInvalidations = func(m []rueidis.RedisMessage) { user(m); n.OnInvalidations(m) }
		}
	}
	client, err := buildBy(ctx, build, opt)
	if c.near.Load() != nil && errors.Is(err, rueidis.ErrNoCache) {
		c.nearOff(ctx, "the server does not offer client tracking (RESP3 CLIENT TRACKING, Redis 6 and later)", err)
		opt.OnInvalidations = r.client.OnInvalidations // the user's only: no near cache
		opt.DisableCache = true
		client, err = buildBy(ctx, build, opt)
	}
	if err != nil {
		if why := r.misused(err); why != "" {
			return &Error{Op: OpConnect, Key: r.redactedURL, Class: ErrInvalidConfig, Cause: err, Hint: why}
		}
		class, hint := classOf(err), "is Redis running there? set Config.URL or REDIS_URL"
		switch {
		case cannotServe(err): // up, but loading its data, running a script, without its primary: an outage, for now
			class, hint = ErrUnavailable, "the server cannot serve yet; the cache connects once it can"
			if r.RequireConnection {
				hint = "the server cannot serve yet (loading its data, a long script, no primary); try again shortly"
			}
		case strings.Contains(err.Error(), "DB index is out of range"):
			hint = "the URL's database number (/N) is beyond the server's databases setting"
		case class == ErrOperation: // the server answered the handshake with an error
			hint = "check the user, password and ACL in the URL"
			if r.client.Sentinel.MasterSet != "" {
				hint += ", and the sentinels' in Config.Sentinel"
			}
		}
		return &Error{Op: OpConnect, Key: r.redactedURL, Class: class, Cause: err, Hint: hint}
	}
	// The checks below go through the door: they run with the probing mark
	// (the breaker may be half-open) and see the client installed.
	ctx = context.WithValue(ctx, probing{}, true)
	c.redis.client.Store(&link{client})
	if err := c.check(ctx, client); err != nil {
		c.redis.client.Store(nil)
		client.Close()
		return err
	}
	c.redis.mu.Lock()
	defer c.redis.mu.Unlock()
	if c.closed.Load() { // closed while connecting in the background
		c.redis.client.Store(nil)
		client.Close()
		return &Error{Op: OpConnect, Class: ErrClosed}
	}
	c.near.mu.Lock()
	c.near.state.On = c.near.Load() != nil
	if c.near.state.On {
		c.near.state.Reason = ""
	}
	c.near.mu.Unlock()
	return nil
}

// misused says how the configuration is wrong when err, a failure to
// build the client, shows the servers are not what it says they are: ""
// when it does not.
func (r *resolved) misused(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case len(r.ClusterAddrs) > 0 && strings.Contains(msg, "cluster support disabled"):
		return "Config.ClusterAddrs lists servers that are not in cluster mode (cluster-enabled no); give one server's address as Config.URL instead"
	case strings.Contains(msg, "cluster support disabled"):
		return "several addresses were given (addr= in the URL) but the servers are not in cluster mode: list a cluster's nodes, or add master_set=<name> if they are sentinels, or give one server"
	case r.client.Sentinel.MasterSet == "" && strings.Contains(msg, "unknown command") && strings.Contains(msg, "cluster"):
		return "the servers do not know CLUSTER: if they are sentinels, give them in Config.Sentinel (or with master_set=<name> in the URL)"
	case r.client.Sentinel.MasterSet != "" && strings.Contains(msg, "unknown command") && strings.Contains(msg, "sentinel"):
		return "the addresses given as sentinels are not Redis Sentinels: list the sentinels' addresses (often port 26379), or give a server's address as Config.URL"
	case r.client.Sentinel.MasterSet != "" && strings.Contains(msg, "no such master"):
		return fmt.Sprintf("the sentinels watch no primary named %q: give the name of their 'sentinel monitor' line (SENTINEL MASTERS lists them)", r.client.Sentinel.MasterSet)
	}
	return ""
}

// buildBy builds a client with build, giving up when ctx ends first: the
// client dials and shakes hands within its Dialer.Timeout whatever the
// context, and New must not outlast its caller's deadline. A client built
// after that is closed. The options are left as they are: they serve the
// client's later redials too.
func buildBy(ctx context.Context, build func(rueidis.ClientOption) (rueidis.Client, error), opt rueidis.ClientOption) (rueidis.Client, error) {
	type built struct {
		client rueidis.Client
		err    error
	}
	ch := make(chan built, 1)
	go func() {
		client, err := build(opt)
		ch <- built{client, err}
	}()
	select {
	case b := <-ch:
		return b.client, b.err
	case <-ctx.Done():
		go func() {
			if b := <-ch; b.client != nil {
				b.client.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// check runs New's checks on a new client: a PING, not a Sentinel, and
// whether the near cache can stay on.
func (c *RedisCache) check(ctx context.Context, client rueidis.Client) error {
	r := &c.cfg
	if _, err := c.Health(ctx); err != nil {
		return err
	}
	if client.Mode() == rueidis.ClientModeStandalone && c.serverMode(ctx, client) == "sentinel" {
		return &Error{Op: OpConnect, Key: r.redactedURL, Class: ErrInvalidConfig,
			Cause: errors.New("the server is a Redis Sentinel, which holds no data"),
			Hint:  "give the sentinels in Config.Sentinel (Addrs and MasterSet) or with ?master_set=<name> in the URL, or the primary's address"}
	}
	if len(r.ClusterAddrs) > 0 && client.Mode() != rueidis.ClientModeCluster {
		return &Error{Op: OpConnect, Key: r.redactedURL, Class: ErrInvalidConfig,
			Cause: errors.New("Config.ClusterAddrs is set but the server is not in cluster mode (cluster-enabled no)"),
			Hint:  "give its address as Config.URL instead"}
	}
	if client.Mode() == rueidis.ClientModeCluster {
		// One primary down fails the calls of its slots only, while the
		// others answer: the breaker opens when the whole cluster is
		// silent, not when one primary is (its calls fail at once when it
		// refuses them, and within OperationTimeout when it does not
		// answer, until the cluster fails it over). Twice the timeout, so
		// that a busy process, whose answers come late, is not taken for
		// a silent cluster.
		c.redis.brk.RequireSilence(2 * r.OperationTimeout)
	}
	if c.near.Load() != nil {
		if err := c.probeNear(ctx); err != nil {
			if ctx.Err() != nil {
				return &Error{Op: OpConnect, Key: r.redactedURL, Class: ErrUnavailable, Cause: ctx.Err()}
			}
			c.nearOff(ctx, "the check that invalidations reach the cache failed", err)
		}
	}
	return nil
}

// serverMode returns the redis_mode of INFO server ("standalone",
// "cluster", "sentinel"), or "" when the server does not say (INFO refused
// by an ACL, a server without it).
func (c *RedisCache) serverMode(ctx context.Context, client rueidis.Client) string {
	msg, err := c.send(ctx, client, client.B().Info().Section("server").Build())
	if err != nil {
		return ""
	}
	info, _ := msg.ToString()
	for _, line := range strings.Split(info, "\n") {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_mode:"); ok {
			return mode
		}
	}
	return ""
}
