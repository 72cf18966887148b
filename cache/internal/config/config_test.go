package config

import (
	"fmt"
	"strings"
	"testing"
)

const pw = "pa55-w0rd"

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw     string
		hostOptional  bool
		redacted      string
		addrs         []string
		hostless      bool
		db            int
		sentinelUser  string
		sentinelPass  string
		masterSet     string
		wantTLSConfig bool
	}{
		{name: "plain", raw: "redis://127.0.0.1:6379/0", redacted: "redis://127.0.0.1:6379/0", addrs: []string{"127.0.0.1:6379"}},
		{name: "password", raw: "redis://u:" + pw + "@127.0.0.1:6379/2", redacted: "redis://u:xxxxx@127.0.0.1:6379/2", addrs: []string{"127.0.0.1:6379"}, db: 2},
		{name: "tls", raw: "rediss://127.0.0.1:6380", redacted: "rediss://127.0.0.1:6380", addrs: []string{"127.0.0.1:6380"}, wantTLSConfig: true},
		{name: "several addresses", raw: "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", redacted: "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}},
		{name: "sentinels", raw: "redis://:" + pw + "@127.0.0.1:26379/0?master_set=m&sentinel_username=s&sentinel_password=" + pw,
			redacted: "redis://:xxxxx@127.0.0.1:26379/0?master_set=m&sentinel_username=s&sentinel_password=xxxxx", addrs: []string{"127.0.0.1:26379"}, masterSet: "m", sentinelUser: "s", sentinelPass: pw},
		{name: "hostless with addresses elsewhere", raw: "redis://:" + pw + "@/0", hostOptional: true, redacted: "redis://:xxxxx@/0", hostless: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			redacted, opt, hostless, err := ParseURL(tc.raw, tc.hostOptional)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.raw, err)
			}
			if redacted != tc.redacted || hostless != tc.hostless || opt.SelectDB != tc.db {
				t.Errorf("ParseURL = %q, hostless %v, db %d; want %q, %v, %d", redacted, hostless, opt.SelectDB, tc.redacted, tc.hostless, tc.db)
			}
			if tc.addrs != nil && strings.Join(opt.InitAddress, ",") != strings.Join(tc.addrs, ",") {
				t.Errorf("addresses %v; want %v", opt.InitAddress, tc.addrs)
			}
			if opt.Sentinel.MasterSet != tc.masterSet || opt.Sentinel.Username != tc.sentinelUser || opt.Sentinel.Password != tc.sentinelPass {
				t.Errorf("sentinel %q %q %q; want %q %q %q", opt.Sentinel.MasterSet, opt.Sentinel.Username, opt.Sentinel.Password, tc.masterSet, tc.sentinelUser, tc.sentinelPass)
			}
			if (opt.TLSConfig != nil) != tc.wantTLSConfig {
				t.Errorf("TLS config %v; want %v", opt.TLSConfig != nil, tc.wantTLSConfig)
			}
		})
	}
}

// Every malformed URL is refused with a message that says what is wrong
// and never holds the password, whatever it contains.
func TestParseURLRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"scheme", "http://u:" + pw + "@127.0.0.1:6379", "scheme"},
		{"malformed port", "redis://u:" + pw + "@127.0.0.1:port", "malformed"},
		{"bad escape", "redis://u%zz:" + pw + "@127.0.0.1", "malformed"},
		{"port range", "redis://:" + pw + "@127.0.0.1:70000", "port"},
		{"db", "redis://u:" + pw + "@127.0.0.1:6379/abc", "database"},
		{"no host", "redis://u:" + pw + "@:6379", "no host"},
		{"no socket", "unix://", "socket path"},
		{"unescaped slash in the password", "redis://u:pa55/w0rd@127.0.0.1", "escape"},
		{"unescaped hash in the password", "redis://u:pa55#w0rd@127.0.0.1", "escaped"},
		{"a hash after the host", "redis://u:" + pw + "@127.0.0.1/0#frag", "'#'"},
		{"unescaped question mark in the password", "redis://u:pa55?w0rd@127.0.0.1", "escape"},
		{"skip_verify", "rediss://u:" + pw + "@127.0.0.1?skip_verify=true", "skip_verify"},
		{"unknown option", "redis://u:" + pw + "@127.0.0.1?pool_size=3", "unknown option"},
		{"password as an option", "redis://127.0.0.1?password=" + pw, "unknown option"},
		{"malformed query", "redis://u:" + pw + "@127.0.0.1?db=%zz", "malformed query"},
		{"bad addr", "redis://127.0.0.1:7000?addr=node2", "addr #1"},
		{"empty master set", "redis://:" + pw + "@127.0.0.1?master_set=", "empty master_set"},
		{"sentinel password without a master set", "redis://127.0.0.1?sentinel_password=" + pw, "without master_set"},
		{"no scheme marker", "redis:/:" + pw + "@host", "URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, _, err := ParseURL(tc.raw, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseURL(%q) = %v; want an error about %q", tc.raw, err, tc.want)
			}
			for _, secret := range []string{pw, "w0rd"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows the password", err)
				}
			}
		})
	}
}

func TestScrubURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want string }{
		{"redis://u:" + pw + "@h:1/0", "redis://xxxxx@h:1/0"},
		{"redis://u:a@b@h:1", "redis://xxxxx@h:1"}, // an '@' in the password
		{"redis://u:a/b@h:1", "redis://xxxxx@h:1"}, // a '/' in the password
		{"redis://h:1?x=1@2", "redis://xxxxx"},     // an '@' after '?': all hidden
		{"redis://h:1/0#" + pw, "redis://h:1/0"},   // a '#': the tail of a password
		{":" + pw + "@h:1", ":xxxxx@h:1"},          // no scheme
		{"redis:/:" + pw + "@h", "redis:/xxxxx@h"}, // one slash
		{"redis://h?sentinel_password=" + pw + "&a=1", "redis://h?sentinel_password=xxxxx&a=1"},
		{"redis://h:1", "redis://h:1"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			if got := ScrubURL(tc.raw); got != tc.want || strings.Contains(got, pw) {
				t.Errorf("ScrubURL(%q) = %q; want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:6379": true, "[::1]:7000": true, "redis.internal:6379": true,
		"127.0.0.1": false, ":6379": false, "h:0": false, "h:65536": false, "h:x": false, "redis://h:1": false,
	} {
		t.Run(addr, func(t *testing.T) {
			if err := CheckAddr(addr); (err == nil) != ok {
				t.Errorf("CheckAddr(%q) = %v; want ok %v", addr, err, ok)
			}
		})
	}
}

// Names are placed in keys and SCAN patterns: glob characters, the key
// separator, spaces of any script, controls (C0 and C1), unprintable
// characters and invalid UTF-8 are refused.
func TestCheckName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"discovery": "", "tenant-42_eu.v2": "", "recherche-é": "", "検索": "",
		"":            "is empty",
		"disc*":       "U+002A",
		"a?b":         "U+003F",
		"a[b]":        "U+005B",
		`a\b`:         "U+005C",
		"a b":         "U+0020",
		"a\tb":        "U+0009",
		"a\u00a0b":    "U+00A0",
		"a\u3000b":    "U+3000",
		"a\u2028b":    "U+2028",
		"a\u009bb":    "U+009B",
		"a\x7fb":      "U+007F",
		"a\u200bb":    "U+200B",
		"a\xffb":      "not valid UTF-8",
		"discovery:t": "separator of keys",
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			err := CheckName("Namespace", name)
			switch {
			case want == "" && err != nil:
				t.Errorf("CheckName(%q) = %v; want ok", name, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("CheckName(%q) = %v; want an error naming %s", name, err, want)
			}
		})
	}
}
