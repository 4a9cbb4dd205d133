//go:build tools

// The endpoint picker itself is built from this module's graph too.
package main

import _ "sigs.k8s.io/gateway-api-inference-extension/cmd/epp"
