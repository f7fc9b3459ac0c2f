// Package redact removes secrets (datastore passwords, join tokens) from
// strings before they reach a log, an error or a report.
package redact

import (
	"regexp"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// Mask replaces a secret.
const Mask = dstype.Mask

var (
	// K3s secure tokens K10<hash>::<user>:<secret>, and bare "--token X".
	// A secret ends at white space or at markup (< " '), so that masking
	// a raw JUnit XML file or a quoted log value keeps it well-formed.
	tokenRE     = regexp.MustCompile(`(K10[0-9a-f]{64}::[^:\s]+:)[^\s<"']+`)
	tokenFlagRE = regexp.MustCompile(`(--(?:agent-)?token[= ])[^\s<"']+`)
	passwordRE  = regexp.MustCompile(`(?i)((?:password|passwd|pwd)=)[^&\s<"']+`)
)

// Endpoint redacts the password of a datastore endpoint (URL or MySQL
// DSN; see dstype.Redact) and any other secret pattern in it.
func Endpoint(s string) string { return String(dstype.Redact(s)) }

// String redacts every secret pattern distrobench knows in free text.
func String(s string) string {
	s = dstype.RedactText(s)
	s = tokenRE.ReplaceAllString(s, "${1}"+Mask)
	s = tokenFlagRE.ReplaceAllString(s, "${1}"+Mask)
	s = passwordRE.ReplaceAllString(s, "${1}"+Mask)
	return s
}

// Args redacts a command line: the value after --token/--datastore-endpoint
// style flags and any secret pattern inside the others.
func Args(args []string) []string {
	out := make([]string, len(args))
	redactNext := false
	for i, a := range args {
		switch {
		case redactNext:
			out[i] = Endpoint(a)
			if isTokenFlag(args[i-1]) {
				out[i] = Mask
			}
			redactNext = false
		case isTokenFlag(a) || a == "--datastore-endpoint":
			out[i] = a
			redactNext = true
		default:
			out[i] = String(a)
		}
	}
	return out
}

func isTokenFlag(a string) bool {
	return a == "--token" || a == "-t" || a == "--agent-token"
}
