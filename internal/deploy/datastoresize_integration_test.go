package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

// TestDatastoreSizeK3liteIntegration: the datastores inside a real k3lite
// server are found where k3lite keeps them (SQLite's state.db; the embedded
// etcd's client certificates under <data-dir>/server/tls), report a size
// above zero, and grow after the API server stored about 2 MB.
func TestDatastoreSizeK3liteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary (make -C distro build)")
	}
	bin := k3liteBinary(t)
	for _, ds := range []string{dstype.SQLite, dstype.EmbeddedEtcd} {
		t.Run(ds, func(t *testing.T) {
			p := &profile.Profile{}
			p.Metadata.Name = "k3lite-size"
			p.Spec.Binary = bin
			p.Spec.Server.Args = []string{"--disable-agent"}
			p.Spec.Timeouts.Ready, p.Spec.Timeouts.Stop = "180s", "60s"
			p.SetDefaults()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			c, err := Up(ctx, Options{Profile: p, Datastore: ds, EtcdBinary: os.Getenv("DISTROBENCH_ETCD"),
				RunDir: filepath.Join(t.TempDir(), "run"), ExtraServerArgs: isolationArgs(t)})
			if err != nil {
				t.Fatalf("Up k3lite on %s: %v", ds, err)
			}
			t.Cleanup(func() { _ = c.Down(context.Background()) })

			before, err := c.DatastoreSize(ctx)
			if err != nil {
				t.Fatalf("DatastoreSize: %v", err)
			}
			if before.Bytes <= 0 || (ds == dstype.EmbeddedEtcd) != (before.InUse > 0) {
				t.Fatalf("DatastoreSize = %+v: want bytes > 0, and an in-use figure for etcd only", before)
			}
			cms := clientset(t, c).CoreV1().ConfigMaps("default")
			blob := strings.Repeat("0123456789abcdef", 512) // 8 KiB
			for i := range 250 {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("size-%d", i)}, Data: map[string]string{"blob": blob}}
				if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					t.Fatalf("create configmap %d: %v", i, err)
				}
			}
			// etcd commits its backend every 100 ms: ask until the file has
			// grown (bounded by ctx).
			after := before
			for after.Bytes <= before.Bytes && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
				if after, err = c.DatastoreSize(ctx); err != nil {
					t.Fatalf("DatastoreSize after writing: %v", err)
				}
			}
			if after.Bytes <= before.Bytes {
				t.Errorf("size did not grow after 2 MB of ConfigMaps: before %+v, after %+v", before, after)
			}
			t.Logf("%s (%s): %d -> %d bytes (in use %d -> %d)", ds, after.Method, before.Bytes, after.Bytes, before.InUse, after.InUse)
		})
	}
}
