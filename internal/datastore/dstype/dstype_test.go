package dstype

import (
	"reflect"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	want := []string{EmbeddedEtcd, Etcd, MySQL, Postgres, SQLite}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if !Known(Default) || Known("mongo") || Known("") {
		t.Error("Known: want the default known, mongo and \"\" unknown")
	}
	if got := EndpointTypes(); !reflect.DeepEqual(got, []string{Etcd, MySQL, Postgres, SQLite}) {
		t.Errorf("EndpointTypes() = %v", got)
	}
}

func TestKinds(t *testing.T) {
	tests := []struct {
		typ           string
		inServer      bool
		schemes       []string
		exampleScheme string
	}{
		{SQLite, true, []string{"sqlite"}, "sqlite://"},
		{EmbeddedEtcd, true, nil, ""},
		{Etcd, false, []string{"http", "https"}, "https://"},
		{MySQL, false, []string{"mysql"}, "mysql://"},
		{Postgres, false, []string{"postgres", "postgresql"}, "postgres://"},
		{"mongo", false, nil, ""},
	}
	for _, tt := range tests {
		if InServer(tt.typ) != tt.inServer || TakesEndpoint(tt.typ) != (tt.schemes != nil) ||
			!reflect.DeepEqual(Schemes(tt.typ), tt.schemes) {
			t.Errorf("%s: InServer %v TakesEndpoint %v Schemes %v; want %v, %v",
				tt.typ, InServer(tt.typ), TakesEndpoint(tt.typ), Schemes(tt.typ), tt.inServer, tt.schemes)
		}
		ex := Example(tt.typ)
		if !strings.HasPrefix(ex, tt.exampleScheme) || (ex == "") != (tt.exampleScheme == "") {
			t.Errorf("%s: Example() = %q, want it to start with %q", tt.typ, ex, tt.exampleScheme)
		}
		if ex != "" {
			if err := CheckEndpoint(tt.typ, ex); err != nil {
				t.Errorf("%s: its own example %q is refused: %v", tt.typ, ex, err)
			}
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct{ typ, endpoint, want string }{
		{MySQL, "mysql://root:pw@tcp(127.0.0.1:3306)/kine", ""},
		{MySQL, "MYSQL://root:pw@tcp(127.0.0.1:3306)/kine", ""},
		{Postgres, "postgres://u:pw@127.0.0.1:5432/kine?sslmode=disable", ""},
		{Postgres, "postgresql://u@127.0.0.1/kine", ""},
		{Etcd, "https://127.0.0.1:2379,https://127.0.0.2:2379", ""},
		{Etcd, "http://127.0.0.1:2379, https://127.0.0.1:2381", ""},
		// K3s and k3lite take sqlite://PATH for where the SQLite file lives.
		{SQLite, "sqlite:///tmp/state.db", ""},
		{SQLite, "sqlite:///tmp/state.db?_journal_mode=WAL", ""},
		{SQLite, "sqlite://", "a sqlite endpoint must start with sqlite:// (e.g. sqlite:///"},
		{SQLite, "mysql://root:pw@tcp(127.0.0.1:3306)/kine", "a sqlite endpoint must start with sqlite://"},
		{Etcd, "https://127.0.0.1:2379,127.0.0.2:2379", "an etcd endpoint must start with http:// or https:// (e.g. https://127.0.0.1:2379)"},
		{Etcd, "https://127.0.0.1:2379,http://", "an etcd endpoint must start with http:// or https://"},
		{Etcd, "http://[::1:2379", `"http://[::1:2379" is not a valid etcd URL`},
		{MySQL, "root:pw@tcp(127.0.0.1:3306)/kine", "a mysql endpoint must start with mysql:// (e.g. mysql://user:pass@tcp("},
		{Postgres, "mysql://x", "a postgres endpoint must start with postgres:// or postgresql://"},
		{Postgres, "postgres://u:pw@127.0.0.1:5432/kine\x7f", "not a valid URL: net/url: invalid control character in URL"},
		{EmbeddedEtcd, "https://127.0.0.1:2379", `datastore type "embedded-etcd" runs inside the server and takes no endpoint; only etcd, mysql, postgres, sqlite do`},
		{"mongo", "mongodb://u:pw@h", `unknown datastore "mongo" (valid: embedded-etcd, etcd, mysql, postgres, sqlite)`},
	}
	for _, tt := range tests {
		err := CheckEndpoint(tt.typ, tt.endpoint)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckEndpoint(%s, %q): %v", tt.typ, tt.endpoint, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckEndpoint(%s, %q) = %v, want it to contain %q", tt.typ, tt.endpoint, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("CheckEndpoint(%s, %q) leaks the password: %v", tt.typ, tt.endpoint, err)
		}
	}
}

func TestAddrs(t *testing.T) {
	tests := map[string][]Addr{
		"postgres://u:p@db.example/kine":         {{"tcp", "db.example:5432"}},
		"postgres://u:p@/kine":                   {{"tcp", "localhost:5432"}},
		"postgres://u:p@h1:1,h2:2/kine":          {{"tcp", "h1:1"}, {"tcp", "h2:2"}},
		"mysql://u:p@tcp(db)/kine":               {{"tcp", "db:3306"}},
		"mysql://u:p@/kine":                      {{"tcp", "127.0.0.1:3306"}},
		"mysql://u:p@unix(/run/m.sock)/kine":     {{"unix", "/run/m.sock"}},
		"https://e1:2379,https://e2":             {{"tcp", "e1:2379"}, {"tcp", "e2:2379"}},
		"postgres://u:p@[::1]:6000/kine?x=y":     {{"tcp", "[::1]:6000"}},
		"mysql://u:p@tcp([::1]:3307)/kine?tls=1": {{"tcp", "[::1]:3307"}},
		"sqlite:///var/lib/state.db":             nil,
	}
	for ep, want := range tests {
		got, err := Addrs(ep)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Addrs(%s) = %v, %v; want %v", ep, got, err, want)
		}
	}
	for ep, want := range map[string]string{
		"mongodb://u:hunter2@127.0.0.1/x":   `datastore endpoint "mongodb://u:REDACTED@127.0.0.1/x": unknown scheme "mongodb": want http:// or https:// (etcd), mysql:// (mysql), postgres:// or postgresql:// (postgres), sqlite:// (sqlite)`,
		"127.0.0.1:5432":                    `datastore endpoint "127.0.0.1:5432": no scheme: want http:// or https:// (etcd)`,
		"http://e1:2379,https://u:hunter2@": `datastore endpoint "http://e1:2379,https://u:REDACTED@": "https://u:REDACTED@" is not a valid etcd URL`,
	} {
		_, err := Addrs(ep)
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Addrs(%s) = %v, want %q", ep, err, want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"postgres://kine:s3cret@127.0.0.1:5432/kine?sslmode=disable": "postgres://kine:REDACTED@127.0.0.1:5432/kine?sslmode=disable",
		"mysql://root:pa:ss@tcp(127.0.0.1:3306)/kine":                "mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine",
		"root:hunter2@tcp(127.0.0.1:3306)/kine":                      "root:REDACTED@tcp(127.0.0.1:3306)/kine",
		"https://127.0.0.1:2379":                                     "https://127.0.0.1:2379",
		"http://u:hunter2@e1:2379,http://u:hunter2@e2:2379":          "http://u:REDACTED@e1:2379,http://u:REDACTED@e2:2379",
		"sqlite:///var/lib/db/state.db":                              "sqlite:///var/lib/db/state.db",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactText("dial mysql://u:pw@tcp(h:1)/d failed; K3S_DATASTORE_ENDPOINT=postgres://k:pw2@h/db"); strings.Contains(got, "pw@") || strings.Contains(got, "pw2") {
		t.Errorf("RedactText leaked a password: %q", got)
	}
}

func TestPassword(t *testing.T) {
	for ep, want := range map[string]string{
		"mysql://kine:s3cret@tcp(127.0.0.1:3306)/kine": "s3cret",
		"mysql://root:pa:ss@tcp(127.0.0.1:3306)/kine":  "pa:ss",
		"postgres://kine:p%40ss@127.0.0.1/kine":        "p@ss",
		"http://127.0.0.1:2379":                        "",
		"postgres://kine@127.0.0.1/kine":               "",
		"sqlite:///var/lib/state.db":                   "",
	} {
		if got := Password(ep); got != want {
			t.Errorf("Password(%s) = %q, want %q", ep, got, want)
		}
	}
}
