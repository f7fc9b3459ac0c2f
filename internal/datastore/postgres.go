package datastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/process"
)

func init() { Register(postgresDriver{}) }

// postgresDriver starts a local PostgreSQL server (Debian's postgresql) for
// the run. PostgreSQL refuses to run as root, so initdb and postgres run as
// the system user "postgres" (syscall.Credential, no shell in between).
// initdb makes "kine" the superuser with a random password; pg_hba.conf
// admits it with that password from loopback and from the networks of the
// caller's extra listen addresses; only the Unix socket, which only local
// users reach, trusts without a password.
type postgresDriver struct{}

func (postgresDriver) Name() string { return dstype.Postgres }
func (postgresDriver) Description() string {
	return "PostgreSQL through kine: a local PostgreSQL server for the run, or --datastore-endpoint postgres://user:pass@host:5432/db?sslmode=disable"
}

// postgresBinDir finds Debian's newest /usr/lib/postgresql/<major>/bin.
func postgresBinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		return "", installHint("postgres (/usr/lib/postgresql/*/bin/postgres)")
	}
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi > vj
	})
	return filepath.Dir(matches[0]), nil
}

func (postgresDriver) Start(ctx context.Context, o StartOptions) (inst *Instance, err error) {
	extra, err := checkExtraListen(o.ExtraListen)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	dir, g, log := o.Dir, o.Group, o.Log
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: system user postgres missing (%w): run 'hack/install-deps.sh datastores'", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}

	base, err := filepath.Abs(filepath.Join(dir, "postgres"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("postgres: create %s: %w", base, err)
	}
	if err := os.Chown(base, uid, gid); err != nil {
		return nil, fmt.Errorf("postgres: chown %s to postgres: %w", base, err)
	}
	if err := ensureTraversable(base, uint32(uid), uint32(gid), log); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	dataDir := filepath.Join(base, "data")
	logPath := filepath.Join(dir, "postgres.log")

	pass, err := randomPassword()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		pwfile := filepath.Join(base, "pwfile")
		if err := os.WriteFile(pwfile, []byte(pass+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("postgres: write password file: %w", err)
		}
		defer os.Remove(pwfile)
		if err := os.Chown(pwfile, uid, gid); err != nil {
			return nil, fmt.Errorf("postgres: chown password file: %w", err)
		}
		if err := runToCompletion(ctx, g, process.Spec{
			Name: "initdb", Path: filepath.Join(bin, "initdb"), LogPath: logPath, Credential: cred, Dir: base,
			Args: []string{"-D", dataDir, "--username=kine", "--pwfile=" + pwfile,
				"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions"},
		}); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		_ = os.Remove(pwfile)
		if err := appendHBA(dataDir, extra); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	} else {
		return nil, fmt.Errorf("postgres: %s already holds a database whose password this run does not know: use a new run directory", dataDir)
	}

	sockDir := base
	if len(filepath.Join(sockDir, ".s.PGSQL.65535.lock")) >= 100 {
		sockDir = "" // too deep for a Unix socket: TCP only
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := g.Start(ctx, process.Spec{
		Name: "postgres", Path: filepath.Join(bin, "postgres"), LogPath: logPath, Credential: cred, Dir: base,
		StopSignal: syscall.SIGINT, // "fast shutdown": SIGTERM would wait for clients to leave
		Args:       postgresArgs(dataDir, sockDir, port, extra),
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer func() {
		if err != nil {
			_, _, _ = p.Stop(process.DefaultStopTimeout)
		}
	}()

	adminURL := fmt.Sprintf("postgres://kine:%s@127.0.0.1:%d/postgres?sslmode=disable", pass, port)
	if err := waitReady(ctx, p, "postgres", func(ctx context.Context) error { return execPostgres(ctx, adminURL, "SELECT 1") }); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := execPostgres(ctx, adminURL, "CREATE DATABASE kine"); err != nil {
		return nil, fmt.Errorf("postgres: create database kine: %w", err)
	}
	endpoint := fmt.Sprintf("postgres://kine:%s@127.0.0.1:%d/kine?sslmode=disable", pass, port)
	if err := execPostgres(ctx, endpoint, "SELECT 1"); err != nil {
		return nil, fmt.Errorf("postgres: database kine: %w", err)
	}
	// At an extra address the connection comes from that address, which
	// lies in its own network: it checks the listener and pg_hba.conf.
	for _, a := range listenAddrs(extra)[1:] {
		u := fmt.Sprintf("postgres://kine:%s@%s/kine?sslmode=disable", pass, net.JoinHostPort(a, strconv.Itoa(port)))
		if err := execPostgres(ctx, u, "SELECT 1"); err != nil {
			return nil, fmt.Errorf("postgres: user kine cannot connect at %s: %w", net.JoinHostPort(a, strconv.Itoa(port)), err)
		}
	}

	inst = &Instance{
		Driver:   dstype.Postgres,
		Endpoint: endpoint,
		Procs:    []*process.Proc{p},
		DataDirs: []string{dataDir},
		Version:  serverVersion(ctx, "PostgreSQL", filepath.Join(bin, "postgres"), postgresVersion),
		secrets:  []string{pass},
	}
	if log != nil {
		log.Info("datastore ready", "datastore", inst.Driver, "endpoint", inst.Redacted(), "listen", listenAddrs(extra), "pid", p.PID, "log", logPath)
	}
	return inst, nil
}

// postgresArgs are postgres's flags: TCP on 127.0.0.1 and every extra
// address, the Unix socket in sockDir ("" for none).
func postgresArgs(dataDir, sockDir string, port int, extra []netip.Prefix) []string {
	return []string{"-D", dataDir, "-c", "listen_addresses=" + strings.Join(listenAddrs(extra), ","),
		"-c", fmt.Sprintf("port=%d", port), "-c", "unix_socket_directories=" + sockDir, "-c", "fsync=on"}
}

// hbaLines are the pg_hba.conf records that admit the user kine, with its
// password (SCRAM, as initdb's loopback records), from the network of
// each extra address. initdb's records cover loopback and the socket.
func hbaLines(extra []netip.Prefix) []string {
	var out []string
	for _, p := range extra {
		l := "host all kine " + p.Masked().String() + " scram-sha-256"
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// appendHBA appends hbaLines to the pg_hba.conf initdb wrote (owned by the
// postgres user; appending keeps its owner and mode).
func appendHBA(dataDir string, extra []netip.Prefix) error {
	lines := hbaLines(extra)
	if len(lines) == 0 {
		return nil
	}
	path := filepath.Join(dataDir, "pg_hba.conf")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("admit the extra listen networks: %w", err)
	}
	_, err = f.WriteString("\n# distrobench: the user kine from the networks of the extra listen addresses\n" + strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("admit the extra listen networks in %s: %w", path, err)
	}
	return nil
}

// execPostgres runs statements on a fresh connection. pgx errors name the
// host and user, never the password.
func execPostgres(ctx context.Context, connURL string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// ensureTraversable makes every ancestor of path searchable by uid/gid so
// the postgres user can reach its data directory. Run directories are
// usually 0700 (they hold the kubeconfig); adding only the search bit for
// others (o+x, no read) lets postgres pass through without listing them.
// Each change is logged. Directories not owned by the harness's user are
// left alone and reported.
func ensureTraversable(path string, uid, gid uint32, log *slog.Logger) error {
	me := uint32(os.Geteuid())
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		mode := fi.Mode().Perm()
		can := false
		switch {
		case st.Uid == uid:
			can = mode&0o100 != 0
		case st.Gid == gid:
			can = mode&0o010 != 0
		default:
			can = mode&0o001 != 0
		}
		if !can {
			if st.Uid != me {
				return fmt.Errorf("the postgres user cannot enter %s (mode %04o): put the run directory elsewhere or run 'chmod o+x %s'", d, mode, d)
			}
			if err := os.Chmod(d, fi.Mode()|0o001); err != nil {
				return fmt.Errorf("let the postgres user enter %s: %w", d, err)
			}
			if log != nil {
				log.Info("granted search permission (o+x) so the postgres user can reach its data dir", "dir", d, "was", fmt.Sprintf("%04o", mode))
			}
		}
		if d == "/" || d == filepath.Dir(d) {
			return nil
		}
	}
}

// postgresVersion matches `postgres --version`'s "postgres (PostgreSQL) 15.18 (Debian ...)".
var postgresVersion = regexp.MustCompile(`\(PostgreSQL\) (\S+)`)
