// Package config holds the checks of the cache's settings that need none
// of its types: Redis URLs (parsed, and shown without their passwords),
// addresses, and the names placed in keys and SCAN patterns. Its errors
// are plain; the cache wraps them in its ErrInvalidConfig.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/redis/rueidis"
)

// CheckAddr checks a host:port address.
func CheckAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("not host:port (a URL belongs in URL)")
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s; a port is 1 to 65535", port)
	}
	return nil
}

// URLOptions are the query options a URL may carry: rueidis.ParseURL's
// that the cache honours, and the sentinels' credentials.
var URLOptions = []string{"db", "dial_timeout", "write_timeout", "client_name", "protocol", "addr", "master_set",
	"sentinel_username", "sentinel_password"}

// ParseURL checks a Redis URL and turns it into client options; with
// hostOptional, the URL may name no host (hostless: its addresses are
// given elsewhere). Errors never contain a password, whatever the input.
func ParseURL(raw string, hostOptional bool) (redacted string, opt rueidis.ClientOption, hostless bool, err error) {
	u, perr := url.Parse(raw)
	if perr != nil {
		if strings.Contains(raw, "@") {
			// The reason would quote what the parser took for a port or a
			// host, which may be part of the password.
			return ScrubURL(raw), opt, false, fmt.Errorf("URL %s is malformed; expected redis://[user:password@]host:port[/db], with / # ? @ in the user name or password escaped (%%2F %%23 %%3F %%40)", ScrubURL(raw))
		}
		// url.Error repeats the whole input: keep only the reason.
		if ue, ok := perr.(*url.Error); ok {
			perr = ue.Err
		}
		return "", opt, false, fmt.Errorf("URL is malformed: %v; expected redis://[user:password@]host:port[/db]", perr)
	}
	shown := *u
	shown.RawQuery = sentinelPassword.ReplaceAllString(u.RawQuery, "${1}xxxxx") // never shown
	shown.Fragment, shown.RawFragment = "", ""
	redacted = shown.Redacted()
	if strings.Contains(raw, "#") {
		// Nothing follows a '#' in a Redis URL but the tail of a password.
		return ScrubURL(raw), opt, false, fmt.Errorf("URL %s has a '#'; escape it as %%23 in the user name, the password and sentinel_password", ScrubURL(raw))
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// An unescaped / # or ? in the password ends the authority early:
		// what the parser took for a host or a path holds part of the
		// password, so the URL is never repeated as parsed.
		return ScrubURL(raw), opt, false, fmt.Errorf("URL %s has an '@' outside its user information; escape / # ? @ in the user name, the password and sentinel_password (%%2F %%23 %%3F %%40)", ScrubURL(raw))
	}
	q, qerr := url.ParseQuery(u.RawQuery)
	if qerr != nil { // url.Query would drop the malformed pair silently
		shown.RawQuery = ""
		return shown.Redacted() + "?…", opt, false, fmt.Errorf("URL %s has a malformed query (a %% not followed by two hexadecimal digits?); escape %% as %%25 in option values", shown.Redacted()+"?…")
	}
	if q.Has("skip_verify") {
		return redacted, opt, false, fmt.Errorf("URL %s sets skip_verify; TLS verification is never switched off by a URL: set Config.TLSConfig with InsecureSkipVerify if you must", redacted)
	}
	for name := range q {
		if !slices.Contains(URLOptions, name) {
			return redacted, opt, false, fmt.Errorf("URL %s has the unknown option %q; the options are %s", redacted, name, strings.Join(URLOptions, ", "))
		}
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return redacted, opt, false, fmt.Errorf("URL %s has scheme %q; use redis://, rediss:// (TLS) or unix://", redacted, u.Scheme)
	}
	hostless = u.Scheme != "unix" && u.Hostname() == ""
	if hostless && !hostOptional {
		return redacted, opt, false, fmt.Errorf("URL %s has no host; expected redis://host:port", redacted)
	}
	if p := u.Port(); u.Scheme != "unix" && p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return redacted, opt, false, fmt.Errorf("URL %s has port %s; a port is 1 to 65535", redacted, p)
		}
	}
	if u.Scheme == "unix" && u.Path == "" {
		return redacted, opt, false, fmt.Errorf("URL %s has no socket path; expected unix:///path/to/redis.sock", redacted)
	}
	for i, a := range q["addr"] {
		if err := CheckAddr(a); err != nil {
			return redacted, opt, false, fmt.Errorf("URL %s: addr #%d %q: %v", redacted, i+1, a, err)
		}
	}
	if ms := q.Get("master_set"); q.Has("master_set") && ms == "" {
		return redacted, opt, false, fmt.Errorf("URL %s has an empty master_set; give the name the sentinels watch the primary under", redacted)
	}
	if !q.Has("master_set") && (q.Has("sentinel_username") || q.Has("sentinel_password")) {
		return redacted, opt, false, fmt.Errorf("URL %s gives sentinel credentials without master_set", redacted)
	}
	opt, perr = rueidis.ParseURL(raw)
	if perr != nil {
		msg := perr.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return redacted, opt, false, fmt.Errorf("URL %s: %s", redacted, msg)
	}
	opt.Sentinel.Username, opt.Sentinel.Password = q.Get("sentinel_username"), q.Get("sentinel_password")
	return redacted, opt, hostless, nil
}

// ScrubURL hides everything between a URL's scheme and its last '@', where
// a password may be, whatever characters it holds, and the value of a
// sentinel_password option, up to the next '&' or '#'.
func ScrubURL(raw string) string {
	i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@")
	start := i + 3 // where user information would begin
	if i < 0 {     // "redis:/:pw@host", ":pw@host": no authority marker, so anything before the '@'
		start = strings.IndexByte(raw, ':') + 1
		if c := strings.IndexByte(raw, '/'); c >= 0 && c < start {
			start = 0
		}
		for start < len(raw) && raw[start] == '/' {
			start++
		}
	}
	if q := strings.IndexByte(raw, '?'); q >= 0 && q < j {
		return raw[:start] + "xxxxx" // an '@' after a '?': what follows may be a password's
	}
	if j >= start {
		raw = raw[:start] + "xxxxx@" + raw[j+1:]
	}
	raw = sentinelPassword.ReplaceAllString(raw, "${1}xxxxx")
	raw, _, _ = strings.Cut(raw, "#") // what follows a '#' is the tail of a password
	return raw
}

// sentinelPassword matches the value of any query option whose name holds
// "pass" (sentinel_password, and a password= given by mistake).
var sentinelPassword = regexp.MustCompile(`(?i)((?:^|[?&;])[a-z_]*pass[a-z_]*=)[^&#]*`)

// CheckName validates a namespace or kind name: something that is placed
// in keys and in SCAN patterns. The caller wraps the error in its class.
func CheckName(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", field, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return strings.ContainsRune(`*?[]\`, r) || unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r)
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%s %q contains %U; glob characters (* ? [ ] \\), spaces, control and other unprintable characters are not allowed", field, s, r)
	}
	if strings.Contains(s, ":") {
		return fmt.Errorf("%s %q contains ':', the separator of keys: its keys could be taken for another's (\"discovery\" would clear \"discovery:tenant\"); use '-', '_' or '.' instead", field, s)
	}
	return nil
}
