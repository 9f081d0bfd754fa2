//go:build tools

// Package tools pins the official supervisor's main package in go.mod, so build-gopeer.sh can
// `go build` it from its published module path at the release go.mod requires.
package tools

import _ "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/opampsupervisor"
