package cloud

import (
	"time"
)

// operation is a long-running operation (google.longrunning.Operation).
// With Options.OperationDelay 0 it is done in the answer to the call that
// starts it, and the provider then never polls (terraform-provider-google
// tpgresource/common_operation.go OperationWait returns at once on
// done:true); otherwise it is done that long after, and the provider polls
// {base}{name} every 10 s.
type operation struct {
	Name     string         `json:"name"`
	DoneAt   time.Time      `json:"doneAt"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Response map[string]any `json:"response,omitempty"`
}

// startOp records an operation whose result is response (nil: none) and
// returns it as the method's answer. name is the operation's full name in
// the API's shape; typeURL is the response's "@type".
func (c *Cloud) startOp(name, metaType, verb, target, typeURL string, response map[string]any) map[string]any {
	now := c.now()
	meta := map[string]any{"@type": metaType}
	if verb != "" {
		meta["verb"] = verb
		meta["target"] = target
		meta["createTime"] = timestamp(now)
		meta["apiVersion"] = "v1"
	}
	op := &operation{Name: name, DoneAt: now.Add(c.opts.OperationDelay), Metadata: meta}
	if response != nil {
		resp := clone(response)
		if typeURL != "" {
			resp["@type"] = typeURL
		}
		op.Response = resp
	}
	c.st.Operations[name] = op
	return c.opJSON(op)
}

func (c *Cloud) opJSON(op *operation) map[string]any {
	out := map[string]any{"name": op.Name}
	if op.Metadata != nil {
		out["metadata"] = clone(op.Metadata)
	}
	if !c.now().Before(op.DoneAt) {
		out["done"] = true
		if op.Response != nil {
			out["response"] = clone(op.Response)
		} else {
			out["response"] = map[string]any{"@type": "type.googleapis.com/google.protobuf.Empty"}
		}
		if m, ok := out["metadata"].(map[string]any); ok && m["verb"] != nil {
			m["endTime"] = timestamp(op.DoneAt)
		}
	}
	return out
}

// getOp is the handler of every operations.get.
func (c *Cloud) getOp(r *Request) (any, error) {
	name := resourceFromVars(r.Method, r.Vars)
	op, ok := c.st.Operations[name]
	if !ok {
		return nil, NotFound("Operation %q not found.", name)
	}
	return c.opJSON(op), nil
}
