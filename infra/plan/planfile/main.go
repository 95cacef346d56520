// Command planfile is plan.sh's helper (make plan):
//
//	planfile config IN OUT    copy the stack file IN to OUT for the throw-away stack, without what it
//	                          cannot read: the secrets provider's keys (encryptionsalt, secretsprovider,
//	                          encryptedkey) and secure: values; print which file and project are planned
//	planfile summary PLAN     print every planned resource of PLAN (pulumi preview --json) by operation,
//	                          type, name and parent: pulumi's diff tree can show a resource under another
//	                          component than its parent
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "planfile: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 3 && args[0] == "config":
		return config(args[1], args[2], stdout)
	case len(args) == 2 && args[0] == "summary":
		return summary(args[1], stdout)
	}
	return errors.New("usage: planfile config IN OUT | planfile summary PLAN.json")
}

// config copies the stack file in to out without what a throw-away stack
// cannot read.
func config(in, out string, stdout io.Writer) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("stack file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var left []string
	project := "(no gcp:project)"
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		root := doc.Content[0]
		var kept []*yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			key, value := root.Content[i], root.Content[i+1]
			if key.Value != "config" {
				left = append(left, key.Value)
				continue
			}
			if value.Kind == yaml.MappingNode {
				var entries []*yaml.Node
				for j := 0; j+1 < len(value.Content); j += 2 {
					k, v := value.Content[j], value.Content[j+1]
					if isSecure(v) {
						left = append(left, k.Value+" (secure)")
						continue
					}
					if k.Value == "gcp:project" {
						project = v.Value
					}
					entries = append(entries, k, v)
				}
				value.Content = entries
			}
			kept = append(kept, key, value)
		}
		root.Content = kept
	}
	cleaned, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, cleaned, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "planning %s (project %s)", filepath.Base(in), project)
	if len(left) > 0 {
		fmt.Fprintf(stdout, "; left out: %s", strings.Join(left, ", "))
	}
	fmt.Fprintln(stdout)
	return nil
}

func isSecure(v *yaml.Node) bool {
	return v.Kind == yaml.MappingNode && len(v.Content) == 2 && v.Content[0].Value == "secure"
}

// summary prints the plan's resources: operation, type, name, parent.
func summary(file string, stdout io.Writer) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var p struct {
		Steps []struct {
			Op       string `json:"op"`
			URN      string `json:"urn"`
			NewState *struct {
				Type   string `json:"type"`
				Parent string `json:"parent"`
			} `json:"newState"`
			OldState *struct {
				Type   string `json:"type"`
				Parent string `json:"parent"`
			} `json:"oldState"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "OP\tTYPE\tNAME\tPARENT")
	for _, s := range p.Steps {
		state := s.NewState
		if state == nil {
			state = s.OldState
		}
		if state == nil {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Op, state.Type, name(s.URN), name(state.Parent))
	}
	return w.Flush()
}

// name is a URN's resource name.
func name(urn string) string {
	if urn == "" {
		return "-"
	}
	return urn[strings.LastIndex(urn, "::")+2:]
}
