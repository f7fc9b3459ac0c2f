// Package endpoint parses and checks K3s --datastore-endpoint values: the
// same strings kine accepts (sqlite://, mysql://, postgres://) plus
// http(s):// URLs of an external etcd.
//
// Nothing this package returns (errors, Redacted) ever contains the
// password of the endpoint.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Kind is the datastore type of an endpoint.
type Kind string

// Datastore kinds.
const (
	KindSQLite   Kind = "sqlite"
	KindMySQL    Kind = "mysql"
	KindPostgres Kind = "postgres"
	KindEtcd     Kind = "etcd"
)

// Default ports and timeouts.
const (
	DefaultMySQLPort    = "3306"
	DefaultPostgresPort = "5432"
	DefaultEtcdPort     = "2379"
	// DefaultDialTimeout bounds CheckReachable when ctx has no deadline.
	DefaultDialTimeout = 5 * time.Second
	// SQLiteDefaultParams are added to the default sqlite endpoint; they are
	// kine's sqlite.DefaultParams (copied to avoid linking the sqlite driver
	// into this small package).
	SQLiteDefaultParams = "_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=20&cache=shared"

	mask = "REDACTED"
	want = "(want sqlite://, mysql://, postgres://, http(s):// for etcd)"
)

// Endpoint is a parsed datastore endpoint.
type Endpoint struct {
	Kind Kind
	// Raw is the endpoint string to hand to kine (or, for etcd, the
	// comma-separated URL list). It contains the password: log Redacted().
	// For the default sqlite endpoint it is
	// "sqlite://<dataDir>/server/db/state.db?<SQLiteDefaultParams>"; an
	// endpoint given by the user is kept as written (trimmed).
	Raw string
	// Host and Port of the (first) server. For MySQL over a unix socket
	// Host is the socket path and Port is empty. Empty for sqlite.
	Host, Port string
	// Path is the database file for sqlite and the database name for MySQL
	// and PostgreSQL (empty: kine's default "kubernetes").
	Path string
	// TLS reports whether the connection uses TLS: https:// for etcd,
	// sslmode=require/verify-ca/verify-full for PostgreSQL, a tls parameter
	// other than false for MySQL.
	TLS bool
}

// Parse parses a datastore endpoint. An empty raw endpoint selects sqlite
// at <dataDir>/server/db/state.db. Errors never contain the password.
func Parse(raw, dataDir string) (Endpoint, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "sqlite://" {
		if dataDir == "" {
			return Endpoint{}, errors.New("default sqlite datastore: no data directory given")
		}
		p := filepath.Join(dataDir, "server", "db", "state.db")
		return Endpoint{Kind: KindSQLite, Raw: "sqlite://" + p + "?" + SQLiteDefaultParams, Path: p}, nil
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("datastore endpoint %s has no scheme %s", redactString(raw), want)
	}
	if !validScheme(scheme) {
		return Endpoint{}, fmt.Errorf("datastore endpoint %s has no valid scheme %s", redactString(raw), want)
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return parseSQLite(raw, rest)
	case "mysql":
		return parseMySQL(raw, rest)
	case "postgres", "postgresql":
		return parsePostgres(raw)
	case "http", "https":
		return parseEtcd(raw)
	}
	return Endpoint{}, fmt.Errorf("unknown datastore endpoint scheme %q %s", scheme, want)
}

// validScheme reports whether s is an RFC 3986 scheme (so it cannot hold a
// piece of a password).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

func parseSQLite(raw, rest string) (Endpoint, error) {
	p, _, _ := strings.Cut(rest, "?")
	if p == "" {
		return Endpoint{}, fmt.Errorf("sqlite datastore endpoint %s has no file path (want sqlite:///abs/path/state.db or sqlite://relative/path)", raw)
	}
	return Endpoint{Kind: KindSQLite, Raw: raw, Path: p}, nil
}

// parseMySQL accepts kine's form mysql://<go-sql-driver DSN>, i.e.
// [user[:password]@][tcp[(host[:port])]|unix(/socket)]/dbname[?params],
// and validates it with the driver's own parser.
func parseMySQL(raw, dsn string) (Endpoint, error) {
	e := Endpoint{Kind: KindMySQL, Raw: raw}
	// The driver splits at the last '/', then the last '@' before it, so a
	// password may hold '@', ':' and '/'. Do the same to find the password
	// for redaction, and keep the query out of the driver's parser (kine
	// adds its own TLS config later).
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return Endpoint{}, fmt.Errorf("mysql datastore endpoint %s has no /dbname (want mysql://user:pass@tcp(host:3306)/dbname)", redactString(raw))
	}
	db, query, _ := strings.Cut(dsn[slash+1:], "?")
	cfg, err := mysql.ParseDSN(dsn[:slash+1] + db)
	if err != nil {
		// Keep only the driver's fixed "invalid DSN: ..." messages; others
		// quote pieces of the DSN that may belong to the password.
		msg := err.Error()
		if !strings.HasPrefix(msg, "invalid DSN:") {
			msg = "invalid DSN: unknown network or malformed address"
		}
		return Endpoint{}, fmt.Errorf("mysql datastore endpoint %s: %s (want mysql://user:pass@tcp(host:3306)/dbname or mysql://user:pass@unix(/path/mysqld.sock)/dbname)", redactString(raw), msg)
	}
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6":
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return Endpoint{}, fmt.Errorf("mysql datastore endpoint %s: bad address (want tcp(host:port))", redactString(raw))
		}
		if port == "" {
			port = DefaultMySQLPort
		}
		e.Host, e.Port = host, port
	case "unix":
		e.Host = cfg.Addr
	default:
		return Endpoint{}, fmt.Errorf("mysql datastore endpoint %s: unsupported network (want tcp(host:port) or unix(/socket/path))", redactString(raw))
	}
	e.Path = cfg.DBName
	if q, err := url.ParseQuery(query); err == nil {
		if v := q.Get("tls"); v != "" && !strings.EqualFold(v, "false") {
			e.TLS = true
		}
	}
	return e, nil
}

// mysqlAt returns the index of the '@' that ends the user info of a DSN
// the driver accepted: the last '@' before the last '/', as the driver
// splits it, or else the last '@' at all. -1 when there is none. (Errors
// about DSNs the driver refused use redactString, which hides up to the
// last '@' of all.)
func mysqlAt(dsn string) int {
	if slash := strings.LastIndexByte(dsn, '/'); slash >= 0 {
		if at := strings.LastIndexByte(dsn[:slash], '@'); at >= 0 {
			return at
		}
	}
	return strings.LastIndexByte(dsn, '@')
}

func parsePostgres(raw string) (Endpoint, error) {
	e := Endpoint{Kind: KindPostgres, Raw: raw}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL and its inner error may quote a
		// piece of it (a '/' in the password ends the host): say what to
		// do instead of wrapping it.
		return Endpoint{}, fmt.Errorf("postgres datastore endpoint %s is not a valid URL: percent-encode special characters in the user name and password (%%40 for @, %%2F for /, %%3F for ?, %%23 for #) (want postgres://user:pass@host:5432/dbname)", e.Redacted())
	}
	if _, after := splitAuthority(raw); strings.Contains(after, "@") {
		return Endpoint{}, fmt.Errorf("postgres datastore endpoint %s has an '@' after the host: percent-encode special characters in the user name and password (%%40 for @, %%2F for /, %%3F for ?, %%23 for #) (want postgres://user:pass@host:5432/dbname)", e.Redacted())
	}
	if u.Hostname() == "" {
		return Endpoint{}, fmt.Errorf("postgres datastore endpoint %s has no host (want postgres://user:pass@host:5432/dbname)", e.Redacted())
	}
	e.Host, e.Port = u.Hostname(), u.Port()
	if e.Port == "" {
		e.Port = DefaultPostgresPort
	}
	e.Path = strings.TrimPrefix(u.Path, "/")
	switch u.Query().Get("sslmode") {
	case "require", "verify-ca", "verify-full":
		e.TLS = true
	}
	return e, nil
}

func parseEtcd(raw string) (Endpoint, error) {
	e := Endpoint{Kind: KindEtcd, Raw: raw}
	addrs, tls, err := etcdAddresses(raw)
	if err != nil {
		return Endpoint{}, err
	}
	e.Host, e.Port, _ = net.SplitHostPort(addrs[0])
	e.TLS = tls
	return e, nil
}

// etcdAddresses returns host:port of every URL in a comma-separated etcd
// endpoint list and whether the first uses TLS.
func etcdAddresses(raw string) ([]string, bool, error) {
	var addrs []string
	tls := false
	for i, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, false, fmt.Errorf("etcd datastore endpoint %s: item %d is not an http(s)://host:port URL (want https://host:2379[,https://host2:2379])", redactString(raw), i+1)
		}
		port := u.Port()
		if port == "" {
			port = DefaultEtcdPort
		}
		if i == 0 {
			tls = u.Scheme == "https"
		}
		addrs = append(addrs, net.JoinHostPort(u.Hostname(), port))
	}
	return addrs, tls, nil
}

// Redacted returns the endpoint with its password replaced by REDACTED.
func (e Endpoint) Redacted() string {
	switch e.Kind {
	case KindSQLite:
		return e.Raw
	case KindMySQL:
		scheme, dsn, _ := strings.Cut(e.Raw, "://")
		at := mysqlAt(dsn)
		if at < 0 {
			return e.Raw
		}
		user, _, hasPass := strings.Cut(dsn[:at], ":")
		if !hasPass {
			return e.Raw
		}
		return scheme + "://" + user + ":" + mask + dsn[at:]
	case KindPostgres, KindEtcd:
		parts := strings.Split(e.Raw, ",")
		for i, p := range parts {
			parts[i] = redactURL(p)
		}
		return strings.Join(parts, ",")
	}
	return redactString(e.Raw)
}

// redactURL redacts the password of one URL without re-encoding the rest.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactString(s)
	}
	authority, after := splitAuthority(s)
	if strings.Contains(after, "@") {
		// an unencoded '/', '?' or '#' in the password moved part of it
		// out of the authority: hide everything up to the last '@'
		return redactString(s)
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	scheme, _, _ := strings.Cut(s, "://")
	at := strings.LastIndexByte(authority, '@')
	user, _, _ := strings.Cut(authority[:at], ":")
	return scheme + "://" + user + ":" + mask + authority[at:] + after
}

// splitAuthority splits "scheme://authority/rest" into authority and the
// rest (which starts with '/', '?' or '#', or is empty).
func splitAuthority(s string) (authority, after string) {
	_, rest, _ := strings.Cut(s, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		return rest, ""
	}
	return rest[:end], rest[end:]
}

// redactString hides anything that may be a password in a string that did
// not parse: everything between the first ':' after "scheme://" and the
// last '@'. It may hide more than the password, never less.
func redactString(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s
	}
	out := user + ":" + mask + rest[at:]
	if ok {
		out = scheme + "://" + out
	}
	return out
}

// Address returns host:port of the (first) server, or the socket path for
// MySQL over a unix socket; empty for sqlite.
func (e Endpoint) Address() string {
	switch {
	case e.Kind == KindSQLite || e.Host == "":
		return ""
	case e.Port == "":
		return e.Host
	}
	return net.JoinHostPort(e.Host, e.Port)
}

// Addresses returns every server address: all members of an etcd list,
// otherwise Address() alone (nil for sqlite).
func (e Endpoint) Addresses() []string {
	if e.Kind == KindEtcd {
		if addrs, _, err := etcdAddresses(e.Raw); err == nil {
			return addrs
		}
	}
	if a := e.Address(); a != "" {
		return []string{a}
	}
	return nil
}

// CheckReachable fails early with a clear message when the datastore cannot
// work: for sqlite it creates the database directory (0700) and checks that
// it is writable; for network kinds it opens (and closes) a connection to
// every server, within ctx's deadline or DefaultDialTimeout.
func (e Endpoint) CheckReachable(ctx context.Context) error {
	if e.Kind == KindSQLite {
		return checkSQLite(e.Path)
	}
	addrs := e.Addresses()
	if len(addrs) == 0 {
		return fmt.Errorf("datastore %s: no server address to check", e.Redacted())
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDialTimeout)
		defer cancel()
	}
	network := "tcp"
	if e.Kind == KindMySQL && e.Port == "" {
		network = "unix"
	}
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				errs[i] = fmt.Errorf("datastore %s unreachable: %w (is the server running and listening on %s?)", e.Redacted(), err, addr)
				return
			}
			_ = conn.Close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func checkSQLite(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sqlite datastore %s: cannot create directory %s: %w (check permissions or use another --data-dir)", path, dir, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("sqlite datastore %s is a directory, want a database file", path)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("sqlite datastore directory %s is not writable: %w (check permissions or use another --data-dir)", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("sqlite datastore directory %s: remove write check file: %w", dir, err)
	}
	return nil
}
