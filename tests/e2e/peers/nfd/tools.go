//go:build tools

// Package tools pins the nfd commands into this module's build list.
package tools

import (
	_ "sigs.k8s.io/node-feature-discovery/cmd/nfd"
	_ "sigs.k8s.io/node-feature-discovery/cmd/nfd-worker"
)
