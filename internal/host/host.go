// Package host collects facts about the machine a run happens on (hostname,
// OS, kernel, CPU, memory) for the report, using gopsutil so the same code
// works on amd64 servers and arm64 boards.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	gohost "github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/distrobench/distrobench/internal/result"
)

// Facts describes this machine. It never fails: whatever cannot be read is
// left at its zero value or filled from the Go runtime (hostname from
// os.Hostname, OS and arch from runtime, cores from runtime.NumCPU). Use
// Collect to learn what could not be read.
func Facts(ctx context.Context) result.Host {
	h, _ := Collect(ctx)
	return h
}

// Collect is Facts plus the errors met on the way (joined), for callers that
// want to log them at debug level. The returned Host is filled as far as
// possible even when the error is not nil.
func Collect(ctx context.Context) (result.Host, error) {
	var h result.Host
	var errs []error

	info, err := gohost.InfoWithContext(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("host info: %w", err))
	}
	if info != nil {
		h.Hostname = info.Hostname
		h.OS = info.OS
		h.Platform = strings.TrimSpace(info.Platform + " " + info.PlatformVersion)
		h.Kernel = info.KernelVersion
		h.Arch = goArch(info.KernelArch)
	}

	cpus, err := cpu.InfoWithContext(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("cpu info: %w", err))
	}
	h.CPUModel = cpuModel(cpus)

	cores, err := cpu.CountsWithContext(ctx, true)
	if err != nil {
		errs = append(errs, fmt.Errorf("cpu count: %w", err))
	}
	h.Cores = cores

	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	}
	if vm != nil {
		h.MemoryBytes = vm.Total
	}

	// Fallbacks from the Go runtime for what gopsutil could not tell.
	if h.Hostname == "" {
		if name, err := os.Hostname(); err == nil {
			h.Hostname = name
		}
	}
	if h.OS == "" {
		h.OS = runtime.GOOS
	}
	if h.Arch == "" {
		h.Arch = runtime.GOARCH
	}
	if h.Cores <= 0 {
		h.Cores = runtime.NumCPU()
	}
	return h, errors.Join(errs...)
}

// cpuModel picks a readable model name. ARM boards often lack "model name"
// in /proc/cpuinfo; gopsutil then reports "Undefined" or nothing, and the
// vendor and part number are the best we have.
func cpuModel(cpus []cpu.InfoStat) string {
	if len(cpus) == 0 {
		return ""
	}
	c := cpus[0]
	if name := strings.TrimSpace(c.ModelName); name != "" && name != "Undefined" {
		return name
	}
	return strings.Join(strings.Fields(c.VendorID+" "+c.Family+" "+c.Model), " ")
}

// goArch maps `uname -m` names to the GOARCH names profiles and build
// targets use, so host and run parameters compare directly. Unknown names
// are kept as they are.
func goArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64", "armv8l", "aarch64_be":
		return "arm64"
	case "armv7l", "armv6l", "arm":
		return "arm"
	case "i386", "i686":
		return "386"
	case "riscv64":
		return "riscv64"
	case "ppc64le":
		return "ppc64le"
	case "s390x":
		return "s390x"
	}
	return machine
}
