package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	oaspec "github.com/go-openapi/spec"
	"gopkg.in/yaml.v3"
)

// loadSwagger parses a YAML or JSON document into go-openapi's model.
func loadSwagger(doc []byte) (*oaspec.Swagger, error) {
	js, err := yamlToJSON(doc)
	if err != nil {
		return nil, err
	}
	var sw oaspec.Swagger
	if err := json.Unmarshal(js, &sw); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	return &sw, nil
}

// yamlToJSON converts a YAML (or JSON) document to JSON.
func yamlToJSON(doc []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	v, err := stringKeys(v)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("convert YAML to JSON: %w", err)
	}
	return js, nil
}

// stringKeys turns YAML's map[any]any (from keys such as 200) into JSON's
// map[string]any.
func stringKeys(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			switch k.(type) {
			case string, int, int64, uint64, bool:
			default:
				return nil, fmt.Errorf("unsupported YAML key %v of type %T", k, k)
			}
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []any:
		for i, e := range t {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	default:
		return v, nil
	}
}

// jsonToYAML re-encodes a JSON document as block-style YAML, keeping the
// key order.
func jsonToYAML(js []byte) ([]byte, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(js, &node); err != nil {
		return nil, fmt.Errorf("convert JSON to YAML: %w", err)
	}
	var clear func(*yaml.Node)
	clear = func(n *yaml.Node) {
		n.Style = 0
		for _, c := range n.Content {
			clear(c)
		}
	}
	clear(&node)
	orderTopLevel(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// topLevelOrder is the order a person expects the top-level keys in; any
// others follow in their existing (sorted) order.
var topLevelOrder = []string{"swagger", "info", "schemes", "produces", "x-google-backend", "x-google-endpoints", "securityDefinitions", "paths", "definitions"}

func orderTopLevel(doc *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := doc.Content[0]
	rank := func(key string) int {
		for i, k := range topLevelOrder {
			if k == key {
				return i
			}
		}
		return len(topLevelOrder)
	}
	pairs := make([][2]*yaml.Node, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		pairs = append(pairs, [2]*yaml.Node{m.Content[i], m.Content[i+1]})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return rank(pairs[i][0].Value) < rank(pairs[j][0].Value) })
	m.Content = m.Content[:0]
	for _, p := range pairs {
		m.Content = append(m.Content, p[0], p[1])
	}
}
