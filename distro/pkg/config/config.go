// Package config turns a K3s-style config.yaml into command-line flags.
//
// The file is a flat YAML mapping of flag names (without dashes) to values:
//
//	write-kubeconfig-mode: "0644"
//	tls-san:
//	  - lb.example
//	disable-agent: true
//	node-label+:
//	  - role=edge
//
// Flatten turns it into "--name=value" arguments (one per list item) in
// file order; MergeArgs puts them in front of the real command line so the
// command line wins. A key ending in "+" (K3s's append syntax) is emitted
// under the name without "+"; for a list flag its items are appended to
// everything else given for that flag.
//
// The file is decoded into a yaml.Node (go.yaml.in/yaml/v3) rather than a
// map so that key order, duplicate keys and line numbers survive for error
// messages.
package config

import (
	"fmt"
	"os"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Flatten converts config.yaml content into "--key=value" flags. Scalars
// keep their source text (so "0644" stays "0644"), booleans become
// "true"/"false", a list gives one flag per item. Nested maps, lists of
// lists, empty values and duplicate keys are errors that name the key and
// line; invalid YAML is an error with the line. An empty document gives no
// flags.
func Flatten(yamlData []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(yamlData, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty file or only comments
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: config must be a mapping of flag names to values, got %s", root.Line, kindName(root))
	}

	var args []string
	seen := map[string]int{} // key as written -> line
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, fmt.Errorf("line %d: config keys must be flag names, got %s", k.Line, kindName(k))
		}
		key := strings.TrimLeft(k.Value, "-")
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: key %q is already set on line %d (use a list for several values)", k.Line, key, first)
		}
		seen[key] = k.Line
		name := strings.TrimSuffix(key, "+")
		if name == "" || strings.ContainsAny(name, " \t=") {
			return nil, fmt.Errorf("line %d: %q is not a flag name", k.Line, k.Value)
		}

		switch v.Kind {
		case yaml.ScalarNode:
			s, err := scalar(key, v)
			if err != nil {
				return nil, err
			}
			args = append(args, "--"+name+"="+s)
		case yaml.SequenceNode:
			for _, item := range v.Content {
				item = resolve(item)
				if item.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("line %d: key %q: list items must be strings, numbers or booleans, got %s", item.Line, key, kindName(item))
				}
				s, err := scalar(key, item)
				if err != nil {
					return nil, err
				}
				args = append(args, "--"+name+"="+s)
			}
		case yaml.MappingNode:
			return nil, fmt.Errorf("line %d: key %q: nested maps are not supported, use a string or a list of strings (e.g. \"key=value\" items)", v.Line, key)
		default:
			return nil, fmt.Errorf("line %d: key %q: unsupported value %s", v.Line, key, kindName(v))
		}
	}
	return args, nil
}

// LoadFile reads and flattens a config file. Errors name the file; a missing
// file is an error that wraps fs.ErrNotExist, so a caller can ignore it for
// the default path only (as K3s does).
func LoadFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	args, err := Flatten(data)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return args, nil
}

// MergeArgs returns fileArgs followed by cliArgs, without the file's value
// of every scalar flag that cliArgs also sets (the command line wins). File
// values of list flags are kept, so list items from both places add up.
// A flag counts as a list flag when isList(name) reports so (the caller
// knows its flag types; isList may be nil) or when fileArgs holds it more
// than once (it was a YAML list or given as "key" and "key+").
//
// Names are compared without dashes; cliArgs may use "--name=value",
// "--name value" or "-name" forms, and nothing after a "--" terminator is
// taken for a flag. Short aliases (e.g. -t for --token) are not resolved:
// pass their long names or let isList cover them.
func MergeArgs(fileArgs, cliArgs []string, isList func(name string) bool) []string {
	inCLI := map[string]bool{}
	for _, a := range cliArgs {
		if a == "--" {
			break
		}
		if name, ok := flagName(a); ok {
			inCLI[name] = true
		}
	}
	fileCount := map[string]int{}
	for _, a := range fileArgs {
		if name, ok := flagName(a); ok {
			fileCount[name]++
		}
	}

	out := make([]string, 0, len(fileArgs)+len(cliArgs))
	for _, a := range fileArgs {
		name, ok := flagName(a)
		if ok && inCLI[name] && fileCount[name] < 2 && (isList == nil || !isList(name)) {
			continue
		}
		out = append(out, a)
	}
	return append(out, cliArgs...)
}

// flagName returns the name of a "-x", "--name" or "--name=value" argument.
func flagName(arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", false
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	if name == "" {
		return "", false
	}
	return name, true
}

func scalar(key string, n *yaml.Node) (string, error) {
	switch n.Tag {
	case "!!null":
		return "", fmt.Errorf("line %d: key %q has no value (use \"\" for an empty string)", n.Line, key)
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return "", fmt.Errorf("line %d: key %q: %w", n.Line, key, err)
		}
		if b {
			return "true", nil
		}
		return "false", nil
	}
	return n.Value, nil
}

// resolve follows YAML aliases (*anchor) to the node they refer to.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		// never the value itself: it may be a secret
		if n.Value == "" {
			return "an empty value"
		}
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unsupported node"
}
