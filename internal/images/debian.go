package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// debPackage is one Debian binary package as apt knows it.
type debPackage struct {
	Name, Arch, Version, SHA256 string
}

func (p debPackage) String() string { return p.Name + ":" + p.Arch + " " + p.Version }

// fileName is the name apt-get download gives the .deb (":" of an epoch
// escaped as %3a).
func (p debPackage) fileName() string {
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), p.Arch)
}

// fetchDebs returns the paths of the .debs of pkgs, each checked against
// apt's SHA256: from cacheDir or apt's own archive cache when already there;
// the missing ones are downloaded into cacheDir with one `apt-get download`
// (a call costs a second or two even when the package is small). paths[i]
// is pkgs[i]'s .deb.
func fetchDebs(ctx context.Context, log *slog.Logger, pkgs []debPackage, cacheDir string) ([]string, error) {
	paths := make([]string, len(pkgs))
	var missing []string
	for i, p := range pkgs {
		for _, c := range []string{filepath.Join(cacheDir, p.fileName()), filepath.Join("/var/cache/apt/archives", p.fileName())} {
			if ok, _ := fileHasSHA256(c, p.SHA256); ok {
				paths[i] = c
				break
			}
		}
		if paths[i] == "" {
			missing = append(missing, p.Name+":"+p.Arch+"="+p.Version)
		}
	}
	if len(missing) == 0 {
		return paths, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the package cache %s: %w", cacheDir, err)
	}
	if _, err := run(ctx, log, cacheDir, nil, "apt-get", append([]string{"download", "-q"}, missing...)...); err != nil {
		return nil, fmt.Errorf("downloading Debian packages %s: %w (is the Debian mirror reachable? is apt's package list current?)", strings.Join(missing, " "), err)
	}
	for i, p := range pkgs {
		if paths[i] != "" {
			continue
		}
		cached := filepath.Join(cacheDir, p.fileName())
		ok, err := fileHasSHA256(cached, p.SHA256)
		if err != nil {
			return nil, fmt.Errorf("downloaded Debian package %s not found as %s: %w", p, cached, err)
		}
		if !ok {
			return nil, fmt.Errorf("downloaded Debian package %s (%s) does not match apt's SHA256 %s: remove it and run apt-get update", p, cached, p.SHA256)
		}
		paths[i] = cached
	}
	return paths, nil
}

func fileHasSHA256(path, want string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}
