package dstype

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a password.
const Mask = "REDACTED"

var (
	// scheme://user:pass@host, anywhere in a text.
	userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]*(@)`)
	// A MySQL DSN's user:pass@tcp( or @unix(, with or without mysql://.
	mysqlRE = regexp.MustCompile(`(^|[\s=/"'])([^\s:@/"'=]+:)(?:[^/@\s][^@\s]*)?(@(?:tcp|unix)\()`)
	// The password of an endpoint that starts the string.
	passwordRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:([^@]*)@`)
)

// Redact returns endpoint (a URL or a MySQL DSN) with its password
// replaced by Mask, for logs, errors, reports and state files.
func Redact(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
			return strings.Replace(u.String(), url.QueryEscape(Mask), Mask, 1)
		}
	}
	return RedactText(endpoint)
}

// RedactText masks the password of every endpoint written in free text
// (a log line, an error, a command line).
func RedactText(s string) string {
	s = userinfoRE.ReplaceAllString(s, "${1}"+Mask+"${2}")
	return mysqlRE.ReplaceAllString(s, "${1}${2}"+Mask+"${3}")
}

// Password returns the password of a URL or MySQL endpoint ("" when it
// has none), for masking the server's own output.
func Password(endpoint string) string {
	m := passwordRE.FindStringSubmatch(endpoint)
	if m == nil {
		return ""
	}
	if pw, err := url.PathUnescape(m[1]); err == nil {
		return pw
	}
	return m[1]
}
