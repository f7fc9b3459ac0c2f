package host

import (
	"context"
	"runtime"
	"testing"

	"github.com/shirou/gopsutil/v4/cpu"
)

// TestFactsOnThisMachine reads the real machine: every field must be filled
// on a Linux host with /proc.
func TestFactsOnThisMachine(t *testing.T) {
	h, err := Collect(context.Background())
	if err != nil {
		t.Logf("partial errors (tolerated by Facts): %v", err)
	}
	for name, v := range map[string]string{
		"Hostname": h.Hostname, "OS": h.OS, "Platform": h.Platform,
		"Kernel": h.Kernel, "Arch": h.Arch, "CPUModel": h.CPUModel,
	} {
		if v == "" {
			t.Errorf("%s is empty: %+v", name, h)
		}
	}
	if h.Cores <= 0 {
		t.Errorf("Cores = %d, want > 0", h.Cores)
	}
	if h.MemoryBytes == 0 {
		t.Errorf("MemoryBytes = 0, want > 0")
	}
	if h.OS != runtime.GOOS {
		t.Errorf("OS = %q, want %q", h.OS, runtime.GOOS)
	}
	if h.Arch != runtime.GOARCH {
		t.Errorf("Arch = %q, want %q (GOARCH naming)", h.Arch, runtime.GOARCH)
	}
	if got := Facts(context.Background()); got != h {
		t.Errorf("Facts = %+v, Collect = %+v", got, h)
	}
}

func TestFactsCanceledContextStillFills(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := Facts(ctx)
	if h.OS == "" || h.Arch == "" || h.Cores <= 0 {
		t.Errorf("fallbacks not applied: %+v", h)
	}
}

func TestGoArch(t *testing.T) {
	for in, want := range map[string]string{
		"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "mips": "mips", "": "",
	} {
		if got := goArch(in); got != want {
			t.Errorf("goArch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCPUModelFallback(t *testing.T) {
	for _, tc := range []struct {
		in   []cpu.InfoStat
		want string
	}{
		{nil, ""},
		{[]cpu.InfoStat{{ModelName: "AMD EPYC 7B13"}}, "AMD EPYC 7B13"},
		{[]cpu.InfoStat{{ModelName: "Undefined", VendorID: "ARM", Model: "0xd08"}}, "ARM 0xd08"},
		{[]cpu.InfoStat{{VendorID: "ARM", Family: "8", Model: "0xd03"}}, "ARM 8 0xd03"},
	} {
		if got := cpuModel(tc.in); got != tc.want {
			t.Errorf("cpuModel(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
