//go:build tools

// llm-d's model-server simulator, built from this module's graph.
package tools

import _ "github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim"
