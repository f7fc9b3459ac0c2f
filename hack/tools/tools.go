//go:build tools

// Package tools pins the developer tools distrobench uses (make verify), in a
// module of their own so their dependencies never reach the harness or k3lite.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)
