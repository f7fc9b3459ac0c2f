package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/process"
)

func init() { Register(mysqlDriver{}) }

// mysqlDriver starts a local MariaDB server (Debian's mariadb-server) for
// the run, with a database and a user "kine" whose password is random,
// allowed from 127.0.0.1 and the networks of the caller's extra listen
// addresses only.
type mysqlDriver struct{}

func (mysqlDriver) Name() string { return dstype.MySQL }
func (mysqlDriver) Description() string {
	return "MariaDB/MySQL through kine: a local MariaDB server for the run, or --datastore-endpoint mysql://user:pass@tcp(host:3306)/db"
}

func (mysqlDriver) Start(ctx context.Context, o StartOptions) (inst *Instance, err error) {
	extra, err := checkExtraListen(o.ExtraListen)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	mariadbd, err := findBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := findBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(o.Dir, "mysql")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("mysql: create data dir: %w", err)
	}
	logPath := filepath.Join(o.Dir, "mysql.log")
	sock, err := unixSocketPath(o.Dir, "mysql.sock")
	if err != nil {
		return nil, fmt.Errorf("mysql: socket: %w", err)
	}

	if _, err := os.Stat(filepath.Join(dataDir, "mysql")); errors.Is(err, os.ErrNotExist) {
		if err := runToCompletion(ctx, o.Group, process.Spec{
			Name: "mariadb-install-db", Path: installDB, LogPath: logPath,
			Args: []string{"--no-defaults", "--datadir=" + dataDir, "--user=root",
				"--auth-root-authentication-method=normal", "--skip-test-db"},
		}); err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
	}

	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := o.Group.Start(ctx, process.Spec{
		Name: "mariadbd", Path: mariadbd, LogPath: logPath,
		Args: mariadbdArgs(dataDir, sock, port, extra),
	})
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	defer func() {
		if err != nil {
			_, _, _ = p.Stop(process.DefaultStopTimeout)
		}
	}()

	// root has no password and may log in over the socket only: it is the
	// harness's account, never reachable over TCP.
	rootCfg := mysql.NewConfig()
	rootCfg.User = "root"
	rootCfg.Net = "unix"
	rootCfg.Addr = sock
	if err := waitReady(ctx, p, "mariadbd", func(ctx context.Context) error { return pingMySQL(ctx, rootCfg) }); err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}

	pass, err := randomPassword()
	if err != nil {
		return nil, err
	}
	if err := execMySQL(ctx, rootCfg, mysqlSetupStatements(pass, extra)...); err != nil {
		return nil, fmt.Errorf("mysql: create database and user kine: %w", err)
	}

	// The real query: the user kine over TCP, as the server will connect,
	// at every address. At an extra address the connection comes from
	// that address, which lies in its own network: it checks the bind and
	// the account for that network.
	for _, a := range listenAddrs(extra) {
		kineCfg := mysql.NewConfig()
		kineCfg.User, kineCfg.Passwd, kineCfg.Net = "kine", pass, "tcp"
		kineCfg.Addr, kineCfg.DBName = net.JoinHostPort(a, strconv.Itoa(port)), "kine"
		if err := pingMySQL(ctx, kineCfg); err != nil {
			return nil, fmt.Errorf("mysql: user kine cannot connect over TCP at %s: %w", kineCfg.Addr, err)
		}
	}

	inst = &Instance{
		Driver:   dstype.MySQL,
		Endpoint: fmt.Sprintf("mysql://kine:%s@tcp(127.0.0.1:%d)/kine", pass, port),
		Procs:    []*process.Proc{p},
		DataDirs: []string{dataDir},
		Version:  serverVersion(ctx, "MariaDB", mariadbd, mariadbVersion),
		secrets:  []string{pass},
	}
	if log := o.Log; log != nil {
		log.Info("datastore ready", "datastore", inst.Driver, "endpoint", inst.Redacted(), "listen", listenAddrs(extra), "pid", p.PID, "log", logPath)
	}
	return inst, nil
}

// mariadbdArgs are mariadbd's flags: TCP on 127.0.0.1 and every extra
// address (MariaDB >= 10.11 takes a comma-separated --bind-address), the
// socket for the harness's root account.
func mariadbdArgs(dataDir, sock string, port int, extra []netip.Prefix) []string {
	return []string{"--no-defaults", "--datadir=" + dataDir, "--user=root",
		"--bind-address=" + strings.Join(listenAddrs(extra), ","), fmt.Sprintf("--port=%d", port), "--socket=" + sock,
		"--pid-file=" + filepath.Join(dataDir, "mariadbd.pid"), "--skip-name-resolve"}
}

// mysqlAccountHosts are the host parts of the kine accounts: 127.0.0.1
// and, per extra address, its network in MariaDB's netmask form
// (10.213.7.0/255.255.255.0; --skip-name-resolve makes these match the
// client's address). Nothing else may log in as kine.
func mysqlAccountHosts(extra []netip.Prefix) []string {
	out := []string{"127.0.0.1"}
	for _, p := range extra {
		mask := net.IP(net.CIDRMask(p.Bits(), 32)).String()
		h := p.Masked().Addr().String() + "/" + mask
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// mysqlSetupStatements create the database kine and one kine account per
// host of mysqlAccountHosts, all with password pass. CREATE OR REPLACE: a
// reused data directory gets this run's password.
func mysqlSetupStatements(pass string, extra []netip.Prefix) []string {
	stmts := []string{"CREATE DATABASE IF NOT EXISTS kine"}
	for _, h := range mysqlAccountHosts(extra) {
		stmts = append(stmts,
			fmt.Sprintf("CREATE OR REPLACE USER 'kine'@'%s' IDENTIFIED BY '%s'", h, pass),
			fmt.Sprintf("GRANT ALL PRIVILEGES ON kine.* TO 'kine'@'%s'", h))
	}
	return stmts
}

func pingMySQL(ctx context.Context, cfg *mysql.Config) error {
	return execMySQL(ctx, cfg, "SELECT 1")
}

func execMySQL(ctx context.Context, cfg *mysql.Config, stmts ...string) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// mysqlConfig parses K3s's mysql://DSN form.
func mysqlConfig(endpoint string) (*mysql.Config, error) {
	return mysql.ParseDSN(strings.TrimPrefix(endpoint, "mysql://"))
}

// mariadbVersion matches `mariadbd --version`'s "Ver 10.11.19-MariaDB-0+deb12u1".
var mariadbVersion = regexp.MustCompile(`Ver (\d[^\s-]*)`)
