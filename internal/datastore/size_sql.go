package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// kineDefaultDatabase is the database kine uses when the endpoint names
// none (kine's mysql and pgsql drivers, prepareDSN).
const kineDefaultDatabase = "kubernetes"

// mysqlSizeQuery sums the schema's tables as InnoDB's statistics have them
// (data_length + index_length: pages in use, refreshed when a tenth of a
// table's rows changed, or by ANALYZE TABLE).
const mysqlSizeQuery = `SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.TABLES WHERE table_schema = DATABASE()`

// postgresSizeQuery is the disk space of the endpoint's database: every
// relation's files, indexes and TOAST included.
const postgresSizeQuery = `SELECT pg_database_size(current_database())`

func (mysqlDriver) size(ctx context.Context, t SizeTarget) (Sizes, error) {
	cfg, err := mysqlSizeConfig(t.Endpoint)
	if err != nil {
		return Sizes{}, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return Sizes{}, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, mysqlSizeQuery).Scan(&n); err != nil {
		return Sizes{}, fmt.Errorf("information_schema.TABLES: %w", err)
	}
	return Sizes{Bytes: n, InUse: -1, Method: "information_schema data+index length"}, nil
}

// mysqlSizeConfig is the connection kine makes for endpoint: its database,
// or kine's default.
func mysqlSizeConfig(endpoint string) (*mysql.Config, error) {
	if endpoint == "" {
		return nil, errors.New("no endpoint given")
	}
	cfg, err := mysqlConfig(endpoint)
	if err != nil {
		return nil, fmt.Errorf("parse the mysql endpoint: %w", err)
	}
	if cfg.DBName == "" {
		cfg.DBName = kineDefaultDatabase
	}
	return cfg, nil
}

func (postgresDriver) size(ctx context.Context, t SizeTarget) (Sizes, error) {
	connURL, err := postgresSizeURL(t.Endpoint)
	if err != nil {
		return Sizes{}, err
	}
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return Sizes{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	if err := conn.QueryRow(ctx, postgresSizeQuery).Scan(&n); err != nil {
		return Sizes{}, fmt.Errorf("pg_database_size: %w", err)
	}
	return Sizes{Bytes: n, InUse: -1, Method: "pg_database_size"}, nil
}

// postgresSizeURL is endpoint with kine's default database when it names
// none.
func postgresSizeURL(endpoint string) (string, error) {
	if endpoint == "" {
		return "", errors.New("no endpoint given")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		// url's error quotes the whole endpoint, password included.
		return "", errors.New("the postgres endpoint is not a valid URL")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/" + kineDefaultDatabase
	}
	return u.String(), nil
}
