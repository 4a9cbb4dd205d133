// selector-oracle answers, for each JSON line [selector, labels] on stdin, what
// k8s.io/apimachinery's label parser says: the canonical form and the match,
// or the error text. kplug's own parser is tested against it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/labels"
)

type answer struct {
	OK        bool   `json:"ok"`
	Canonical string `json:"canonical,omitempty"`
	Match     bool   `json:"match"`
	Error     string `json:"error,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var q []json.RawMessage
		if err := json.Unmarshal(in.Bytes(), &q); err != nil || len(q) != 2 {
			fmt.Fprintln(os.Stderr, "bad query line:", in.Text())
			os.Exit(2)
		}
		var text string
		var set map[string]string
		if json.Unmarshal(q[0], &text) != nil || json.Unmarshal(q[1], &set) != nil {
			fmt.Fprintln(os.Stderr, "bad query line:", in.Text())
			os.Exit(2)
		}
		sel, err := labels.Parse(text)
		if err != nil {
			_ = out.Encode(answer{Error: err.Error()})
			continue
		}
		_ = out.Encode(answer{OK: true, Canonical: sel.String(), Match: sel.Matches(labels.Set(set))})
	}
}
